// Messaging runtime: under construction
