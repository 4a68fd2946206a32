"""The lab's DataJoint pipeline as this tool sees it: connection and schemas."""
