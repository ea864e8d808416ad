"""SSH only: host keys, algorithms, the connection gate (limits, PROXY header), auth callbacks,
the channel → application input, exec requests, SFTP/SCP; the data is reached through what
app.py hands in."""
