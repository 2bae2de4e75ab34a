"""``python -m edge_agent --config agent.toml``."""

from edge_agent.main import main

raise SystemExit(main())
