from rails_mcp.cli import main

main()
