"""What a run tells while it runs: the event stream, the reporter a run gets, the terminal's bars."""
