import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackupTest {
    static final Path FIXTURE = ArchiveFilesTest.FIXTURE;

    static Console quiet() {
        return new TestConsole().console;
    }

    static void seed(Path dir) throws Exception {
        for (String n : ArchiveFiles.NAMES) Files.copy(FIXTURE.resolve(n), dir.resolve(n));
    }

    @Test
    void backupIsByteIdenticalAndNamedAsAdminsExpect(@TempDir Path dir) throws Exception {
        seed(dir);
        StepRunner.run(new BackupStep(), TestContext.withData(dir, quiet()));
        List<Backups.Backup> all = new Backups(dir).list();
        assertEquals(1, all.size());
        Backups.Backup b = all.get(0);
        assertTrue(b.label().matches("\\d{8}-\\d{6}"), b.label());
        assertEquals("identities.json." + b.label() + ".bak", b.identities().getFileName().toString());
        assertArrayEquals(Files.readAllBytes(dir.resolve("identities.json")), Files.readAllBytes(b.identities()));
        assertArrayEquals(Files.readAllBytes(dir.resolve("photo_index.json")), Files.readAllBytes(b.photoIndex()));
    }

    @Test
    void twoBackupsInTheSameSecondNeverOverwriteEachOther(@TempDir Path dir) throws Exception {
        seed(dir);
        Backups backups = new Backups(dir);
        Backups.Backup first = backups.create();
        Files.writeString(dir.resolve("identities.json"), "{\"identities\": {}}");
        Backups.Backup second = backups.create();
        assertNotEquals(first.label(), second.label());
        assertArrayEquals(Files.readAllBytes(FIXTURE.resolve("identities.json")), Files.readAllBytes(first.identities()));
        assertEquals("{\"identities\": {}}", Files.readString(second.identities()));
        assertEquals(second.label(), backups.list().get(0).label(), "newest first");
    }

    @Test
    void backupRestoreRoundTripsByteIdenticallyAndCanBeUndone(@TempDir Path dir) throws Exception {
        seed(dir);
        byte[] ids = Files.readAllBytes(dir.resolve("identities.json"));
        byte[] photos = Files.readAllBytes(dir.resolve("photo_index.json"));
        String label = StepRunner.run(new BackupStep(), TestContext.withData(dir, quiet())).result().label();
        // the archive changes after the backup ...
        Files.writeString(dir.resolve("identities.json"), "{\"schema_version\": 1, \"identities\": {}}");
        Files.writeString(dir.resolve("photo_index.json"), "{\"photos\": {}}");
        restore_backup.restore(TestContext.withData(dir, quiet()), label);
        assertArrayEquals(ids, Files.readAllBytes(dir.resolve("identities.json")));
        assertArrayEquals(photos, Files.readAllBytes(dir.resolve("photo_index.json")));
        // ... and the state before the restore was itself backed up
        List<Backups.Backup> all = new Backups(dir).list();
        assertEquals(2, all.size());
        assertEquals("{\"photos\": {}}", Files.readString(all.get(0).photoIndex()));
    }

    @Test
    void corruptBackupIsRefusedAndNothingChanges(@TempDir Path dir) throws Exception {
        seed(dir);
        Path backups = Files.createDirectories(dir.resolve("backups"));
        Files.writeString(backups.resolve("identities.json.20260101-000000.bak"), "{\"identities\": {\"x\": [");
        Files.copy(FIXTURE.resolve("photo_index.json"), backups.resolve("photo_index.json.20260101-000000.bak"));
        byte[] before = Files.readAllBytes(dir.resolve("identities.json"));
        KitException e = assertThrows(KitException.class, () -> restore_backup.restore(TestContext.withData(dir, quiet()), "20260101-000000"));
        assertTrue(e.getMessage().contains("refusing") && e.getMessage().contains("not valid JSON"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("identities.json")));
        try (var s = Files.list(backups)) {
            assertEquals(2, s.count(), "a refused restore makes no safety backup either");
        }
    }

    @Test
    void wrongKindOfDocumentIsRefused(@TempDir Path dir) throws Exception {
        seed(dir);
        Path backups = Files.createDirectories(dir.resolve("backups"));
        // a photo index saved under the identities name
        Files.copy(FIXTURE.resolve("photo_index.json"), backups.resolve("identities.json.manual.bak"));
        KitException e = assertThrows(KitException.class, () -> restore_backup.restore(TestContext.withData(dir, quiet()), "manual"));
        assertTrue(e.getMessage().contains("looks like a photo index"), e.getMessage());
    }

    @Test
    void emptyArchiveHasNothingToBackUp(@TempDir Path dir) throws Exception {
        var summary = StepRunner.run(new BackupStep(), TestContext.withData(dir, quiet())).toJson().get("result");
        assertTrue(summary.get("label").isNull());
        assertFalse(Files.exists(dir.resolve("backups")));
    }

    @Test
    void cliListsNewestFirstWithCountsAndRestoresLatest(@TempDir Path dir) throws Exception {
        seed(dir);
        assertEquals(0, KitProcess.run("steps/backup.java", "--data-dir", dir.toString()).exitCode());
        KitProcess.Result list = KitProcess.run("steps/restore_backup.java", "--data-dir", dir.toString(), "--list", "--json");
        assertEquals(0, list.exitCode(), list.all());
        var json = JsonFiles.parse(list.stdout(), "stdout");
        assertEquals(49, json.get("backups").get(0).get("identities").asInt());
        assertEquals(81, json.get("backups").get(0).get("photos").asInt());
        assertTrue(list.stderr().contains("IDENTITIES"), "the table goes to stderr in --json mode");

        KitProcess.Result usage = KitProcess.run("steps/restore_backup.java", "--data-dir", dir.toString(), "--latest", "--list");
        assertEquals(2, usage.exitCode());
        assertTrue(usage.stderr().contains("cannot be used together"), usage.stderr());

        Files.writeString(dir.resolve("identities.json"), "{\"identities\": {}}");
        KitProcess.Result restored = KitProcess.run("steps/restore_backup.java", "--data-dir", dir.toString(), "--latest");
        assertEquals(0, restored.exitCode(), restored.all());
        assertTrue(Arrays.equals(Files.readAllBytes(FIXTURE.resolve("identities.json")), Files.readAllBytes(dir.resolve("identities.json"))));
    }

    /** Issue 11 item 9c: a backup of a damaged identities.json must not block --latest while a good backup exists. */
    @Test
    void restoreLatestSkipsANewerDamagedBackupAndSaysWhich(@TempDir Path dir) throws Exception {
        seed(dir);
        byte[] good = Files.readAllBytes(dir.resolve("identities.json"));
        String goodLabel = StepRunner.run(new BackupStep(), TestContext.withData(dir, quiet())).result().label();
        Files.writeString(dir.resolve("identities.json"), "{\"identities\": {\"x\": [");
        TestConsole backupSays = new TestConsole();
        String badLabel = StepRunner.run(new BackupStep(), TestContext.withData(dir, backupSays.console)).result().label();
        assertTrue(backupSays.text().contains("not a good one"), "backup warns it copied a damaged file: " + backupSays.text());
        assertFalse(backupSays.text().contains("--timestamp " + badLabel), "the damaged backup is not offered for a restore: " + backupSays.text());
        assertTrue(backupSays.text().contains("./jbang restore --latest"), backupSays.text());
        assertEquals(badLabel, new Backups(dir).list().get(0).label(), "the damaged backup is the newest");

        KitProcess.Result r = KitProcess.run("steps/restore_backup.java", "--data-dir", dir.toString(), "--latest", "--json");
        assertEquals(0, r.exitCode(), r.all());
        assertTrue(r.stderr().contains("skipping backup " + badLabel + ", which is not a good one") && r.stderr().contains("not valid JSON"), r.stderr());
        assertTrue(r.stderr().contains("Restoring the newest good backup instead: " + goodLabel), r.stderr());
        var json = JsonFiles.parse(r.stdout(), "stdout");
        assertEquals(goodLabel, json.get("restored").asText());
        assertEquals(badLabel, json.at("/skipped/0/label").asText());
        assertArrayEquals(good, Files.readAllBytes(dir.resolve("identities.json")), "the good backup is back, byte for byte");
    }

    @Test
    void restoreLatestWithOnlyDamagedBackupsRefusesAndChangesNothing(@TempDir Path dir) throws Exception {
        seed(dir);
        Path backups = Files.createDirectories(dir.resolve("backups"));
        Files.writeString(backups.resolve("identities.json.20260101-000000.bak"), "not json");
        byte[] before = Files.readAllBytes(dir.resolve("identities.json"));
        KitException e = assertThrows(KitException.class, () -> restore_backup.restoreLatest(TestContext.withData(dir, quiet())));
        assertTrue(e.getMessage().contains("none of the 1 backups") && e.fix().contains("nothing was changed"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("identities.json")));
        try (var s = Files.list(backups)) {
            assertEquals(1, s.count(), "no safety backup either");
        }
    }

    @Test
    void dryRunSaysWhatItWouldCopyAndWritesNothing(@TempDir Path dir) throws Exception {
        seed(dir);
        byte[] ids = Files.readAllBytes(dir.resolve("identities.json")), photos = Files.readAllBytes(dir.resolve("photo_index.json"));
        KitProcess.Result r = KitProcess.run("steps/backup.java", "--data-dir", dir.toString(), "--dry-run", "--json");
        assertEquals(0, r.exitCode(), r.all());
        assertTrue(r.stderr().contains("back up identities.json") && r.stderr().contains("Dry run: nothing was changed"), r.all());
        assertTrue(JsonFiles.parse(r.stdout(), "the dry run's JSON").get("result").isNull(), r.stdout());
        assertFalse(Files.exists(dir.resolve("backups")), "a dry run makes no backup");
        assertArrayEquals(ids, Files.readAllBytes(dir.resolve("identities.json")));
        assertArrayEquals(photos, Files.readAllBytes(dir.resolve("photo_index.json")));
    }
}
