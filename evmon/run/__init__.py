"""Running project-days: one day, many days, what-ifs, and the executors that compute them."""
