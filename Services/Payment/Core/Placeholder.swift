// Payment domain: under construction
