"""How the CLI shows objects: tables, yaml/json, names, jsonpath, custom columns, describe."""
