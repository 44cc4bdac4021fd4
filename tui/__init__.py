"""The Textual app and the `costdeck` command line. The only package that imports textual."""
