using EnergyWs;
using EnergyWs.Demo;
using EnergyWs.Health;
using EnergyWs.History;
using EnergyWs.Kafka;
using EnergyWs.Metrics;
using EnergyWs.Streaming;

var builder = WebApplication.CreateSlimBuilder(args);

builder.AddHosting();
builder.AddDemo();          // before Kafka: the embedded broker must outlive its clients
builder.AddKafkaReadings();
builder.AddStreaming();
builder.AddHistory();
builder.AddHealth();
builder.AddMetrics();

var app = builder.Build();

app.UseWebSockets();
// Everything that serves readings in one group: authorization for /ws, /ws/energy and /api/readings goes here (.RequireAuthorization()).
var readings = app.MapGroup("");
readings.MapStreaming();
readings.MapReadingsApi();
app.MapHealth();
app.MapMetrics();

return await app.RunWithStartupErrorsAsync();
