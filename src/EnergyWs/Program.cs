using EnergyWs;
using EnergyWs.Auth;
using EnergyWs.Dashboard;
using EnergyWs.Demo;
using EnergyWs.Freshness;
using EnergyWs.Health;
using EnergyWs.History;
using EnergyWs.Kafka;
using EnergyWs.Management;
using EnergyWs.Metrics;
using EnergyWs.Streaming;

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseKestrelHttpsConfiguration(); // HTTPS endpoints from configuration, which the slim builder leaves out

builder.AddHosting();
builder.AddManagement();     // /metrics and health details on a port of their own (Management:Port)
builder.AddDemo();          // before Kafka: the embedded broker must outlive its clients
builder.AddKafkaReadings();
builder.AddFreshness();      // when each stream and device last had a record, and whether that is too long ago
builder.AddStreaming();
builder.AddAuth();
builder.AddHistory();
builder.AddHealth();
builder.AddMetrics();

var app = builder.Build();

app.UseDashboard();       // static files first: they short-circuit before the endpoints
app.UseStreaming();       // WebSockets, on a transport that batches each client's backlog into one write
app.UseRateLimiter();     // per-IP limit on connection attempts (429), before any token is validated
app.UseAuth();
// Everything that serves readings is one group, behind one authorization policy: /ws, /ws/energy, /api/readings.
var readings = app.MapGroup("").RequireAuthorization(AuthExtensions.ClientPolicy);
readings.MapStreaming();
readings.MapReadingsApi(ConnectRateLimit.ApiPolicy); // per client IP
app.MapHealth();
app.MapMetrics();

return await app.RunWithStartupErrorsAsync();
