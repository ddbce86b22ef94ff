"""Moving history in and out: JSON-lines import through the pipeline, and export."""
