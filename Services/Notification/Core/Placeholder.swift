// Notification domain: under construction
