"""Role views and commands; `policy` holds who may see and do what."""
