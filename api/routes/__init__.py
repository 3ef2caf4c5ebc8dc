"""The API's routers, one per audience or resource."""
