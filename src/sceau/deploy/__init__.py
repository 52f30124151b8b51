"""Running the service as many processes: the load balancer's configuration."""
