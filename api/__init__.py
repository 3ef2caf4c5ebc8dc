"""The HTTP API: FastAPI routers for the security team, the DPO and the authority liaison."""
