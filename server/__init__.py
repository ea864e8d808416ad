"""Support Tickets: a campus helpdesk served over SSH."""
