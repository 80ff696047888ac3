"""AWS wiring of the core: Lambda event parsing and the S3 side of the import.

Nothing here needs the Lambda runtime; ``functions/*/app.py`` only call into it.
"""
