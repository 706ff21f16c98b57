"""The api function: its handler, routes, request and response models, settings, and what it
does for each route (service.py). Imports api, aws and core, never emit."""
