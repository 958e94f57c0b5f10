using System.Text;
using QueryStatus.Api.Store;

namespace QueryStatus.Api.Tests.Store;

public sealed class SeedFileReadTests
{
    [Fact]
    public void SeedFileSavedWithByteOrderMarkIsRead()
    {
        var path = Path.Combine(Path.GetTempPath(), $"qs-seed-bom-{Guid.NewGuid():N}.json");
        const string json = """{"schedules":[{"schedule_id":"bom","license_id":"lic_bom","status_code":"SUCCESS","subqueries":["DONE"],"data":[{"a": 1}]}]}""";
        File.WriteAllText(path, json, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        try
        {
            Assert.Equal(0xEF, File.ReadAllBytes(path)[0]);

            var record = Assert.Single(SeedFile.Read(path));

            Assert.Equal("bom", record.ScheduleId);
            Assert.Equal("""{"a": 1}""", Encoding.UTF8.GetString(record.Rows.Get(0).Span));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
