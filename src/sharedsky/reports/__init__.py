"""Reports: what a run found, for people (mining reports and plots; incident dossiers)."""
