"""Plain-Python knowledge tables (no Django): bug check codes and their parameters, and the driver lists
that tell Windows' own modules from third-party ones. Read by the parsers (to name what they find) and
by the rules (to judge it); neither imports the other for them.
"""
