"""The rules of pagesite. The API, the web views, the CLI and the worker jobs
all call these functions; none of them re-implements a rule."""
