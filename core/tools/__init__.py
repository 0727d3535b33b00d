"""Worker tools (files, shell, web) and the permission policy."""
