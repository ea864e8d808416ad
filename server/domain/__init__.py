"""The rules with no input or output: records and vocabularies, validation, the access function."""
