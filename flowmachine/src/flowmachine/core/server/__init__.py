"""The FlowMachine server: query schemas (the API's query kinds) and, with the next issue, the ZeroMQ server."""
