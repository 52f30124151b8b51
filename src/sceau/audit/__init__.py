"""The audit trail: every act of consequence, chained by SHA-256 and anchored
like a document, so that no one can rewrite it without it showing."""
