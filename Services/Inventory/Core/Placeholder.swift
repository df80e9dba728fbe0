// Inventory domain: under construction
