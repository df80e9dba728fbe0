// Order domain: under construction
