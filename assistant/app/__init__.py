"""What people and programs use: the chat, its HTML, feedback, the command line, the benchmark."""
