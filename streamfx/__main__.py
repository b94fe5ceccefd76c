from streamfx.cli import entry

entry()
