"""The pickle emulator: an opcode reader as the unpickler reads bytes, the interpreter's stack machine, and the
judge that weighs every import and call against the scan policy (`scanning.policy`)."""
