"""The settings of config/settings.py by concern; config.settings gathers them (DJANGO_SETTINGS_MODULE)."""
