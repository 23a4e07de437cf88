"""The live room: chat, questions, likes, moderation, explanations, pins and link drops."""
