"""OGC API Processes plugins. Each entry: process id -> dotted path of its pygeoapi processor."""

PROCESSES: dict[str, str] = {
    "isochrone": "twin.processes.isochrone.IsochroneProcessor",
    "fifteen-minute-report": "twin.processes.fifteen_minute_report.FifteenMinuteReportProcessor",
    "plot-report": "twin.processes.plot_report.PlotReportProcessor",
    "scenario": "twin.processes.scenario.ScenarioProcessor",
    "route": "twin.processes.route.RouteProcessor",
}
