"""Which token positions a steering edit applies to: every position, the prompt's, or the generated
ones. Its own module so that a config naming the choice does not import the hook machinery (and a
cache key built from the config's imports does not change when the hooks do)."""

POSITIONS = ("all", "prompt", "generated")
