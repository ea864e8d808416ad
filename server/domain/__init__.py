"""The rules with no input or output: who may do what (access)."""
