"""delegate's engine: agents, supervisor, model access, tools and store. Never imports Textual."""
