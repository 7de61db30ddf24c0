"""The running service: its settings, the application's assembly, start-up checks and the
--processes supervisor. server.py is the entry point that puts them together."""
