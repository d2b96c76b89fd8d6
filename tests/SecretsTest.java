import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 item 3: the sync token was printed in full when it ended in CR or LF (the HTTP
 * client refused the header and its exception quoted it). Real processes with a project root
 * of their own (.env, data/) against the real local site; every captured stream and every file
 * the runs wrote is searched for the token and for the R2 secret.
 */
class SecretsTest {
    static final String TOKEN = "tok-SECRET-5f3a9c71";
    static final String R2_SECRET = "r2-SECRET-key-81d2e0";

    @TempDir Path tmp;
    Path project, siteRoot;
    local_site.Running site;
    final List<KitProcess.Result> runs = new ArrayList<>();

    @BeforeEach
    void seed() throws Exception {
        project = Files.createDirectories(tmp.resolve("project"));
        siteRoot = Files.createDirectories(tmp.resolve("site"));
        Path data = Files.createDirectories(project.resolve("data"));
        for (String n : ArchiveFiles.NAMES) {
            Files.copy(ArchiveFilesTest.FIXTURE.resolve(n), siteRoot.resolve(n));
            Files.copy(ArchiveFilesTest.FIXTURE.resolve(n), data.resolve(n));
        }
        // an admin's rename on the site, so that a push has something to merge and write locally
        var prod = JsonFiles.readObject(siteRoot.resolve("identities.json"));
        ((com.fasterxml.jackson.databind.node.ObjectNode) prod.get("identities").elements().next()).put("name", "Renamed On The Site");
        JsonFiles.write(siteRoot.resolve("identities.json"), prod);
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S", "C", Map.of("IMG_0001.jpg", new byte[] {1, 2, 3}));
        site = local_site.start(siteRoot, 0, TOKEN);
    }

    @AfterEach
    void stop() {
        site.close();
    }

    /** The kit's settings for a run: the project root, and nothing inherited from the test's own environment. */
    Map<String, String> env(String token) {
        Map<String, String> env = new HashMap<>();
        env.put("KIT_ROOT", project.toString());
        for (String v : List.of("RHODESLI_SITE_URL", "R2_ACCOUNT_ID", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_BUCKET_NAME", "R2_ENDPOINT_URL")) env.put(v, "");
        env.put("RHODESLI_SYNC_TOKEN", token);
        return env;
    }

    void dotEnv(String syncTokenLine) throws Exception {
        Files.writeString(project.resolve(".env"), "RHODESLI_SITE_URL=" + site.url() + "\n"
                + (syncTokenLine == null ? "" : syncTokenLine + "\n")
                + "R2_SECRET_ACCESS_KEY=\"" + R2_SECRET + "\r\"\n");
    }

    KitProcess.Result run(Map<String, String> env, String script, String... args) throws Exception {
        KitProcess.Result r = KitProcess.run(env, null, script, args);
        runs.add(r);
        return r;
    }

    /** Neither secret in any captured output, nor in any file under the project (but .env) or the site. */
    void assertNoSecretAnywhere() throws Exception {
        for (KitProcess.Result r : runs) {
            for (String secret : List.of(TOKEN, R2_SECRET)) assertFalse(r.all().contains(secret), "a secret was printed:\n" + r.all());
            assertFalse(r.all().contains("Exception"), "no exception text: " + r.all());
        }
        int files = 0;
        for (Path dir : List.of(project, siteRoot)) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path f : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                    if (f.equals(project.resolve(".env"))) continue;
                    String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
                    for (String secret : List.of(TOKEN, R2_SECRET)) assertFalse(text.contains(secret), "a secret was written to " + f);
                    files++;
                }
            }
        }
        assertTrue(files > 5, "the runs wrote files to search (" + files + ")");
    }

    @Test
    void aTokenEndingInCarriageReturnWorksAndIsNeverPrintedNorWritten() throws Exception {
        dotEnv(null);
        // the reproduction: RHODESLI_SYNC_TOKEN=$'tok\r' ./jbang download --dry-run
        KitProcess.Result download = run(env(TOKEN + "\r"), "steps/download_staged.java", "--dry-run");
        assertEquals(0, download.exitCode(), download.all());
        assertTrue(download.all().contains("a1b2c3d4"), "the site was reached with the trimmed token: " + download.all());

        KitProcess.Result plan = run(env(TOKEN + "\r\n"), "steps/push_to_production.java", "--dry-run");
        assertEquals(0, plan.exitCode(), plan.all());
        assertTrue(plan.all().contains("changed on site (kept production)"), plan.all());

        KitProcess.Result push = run(env(TOKEN + "\r"), "steps/push_to_production.java", "--json");
        assertEquals(0, push.exitCode(), push.all());
        assertTrue(JsonFiles.parse(push.stdout(), "stdout").at("/result/verified").asBoolean(), push.stdout());
        assertTrue(Files.isDirectory(project.resolve("data/backups")), "the push wrote files (backup, merged data)");
        assertNoSecretAnywhere();
    }

    @Test
    void aDotEnvTokenWithAnEscapedLineEndWorks() throws Exception {
        dotEnv("RHODESLI_SYNC_TOKEN=\"" + TOKEN + "\\n\"");
        KitProcess.Result r = run(env(""), "steps/push_to_production.java", "--dry-run");
        assertEquals(0, r.exitCode(), r.all());
        assertTrue(r.all().contains("Dry run: nothing was changed"), r.all());
        assertNoSecretAnywhere();
    }

    @Test
    void aTokenWithAControlCharacterInsideIsRefusedByNameAndNeverShown() throws Exception {
        dotEnv(null);
        KitProcess.Result r = run(env(TOKEN + "\u0001x"), "steps/push_to_production.java", "--dry-run");
        assertEquals(1, r.exitCode(), r.all());
        assertTrue(r.all().contains("WARNING: RHODESLI_SYNC_TOKEN (from the environment) holds a control character"), r.all());
        assertTrue(r.stderr().contains("needs RHODESLI_SYNC_TOKEN (set, but it holds a control character"), r.stderr());
        assertNoSecretAnywhere();
    }

    /** The last guard: an unexpected exception whose text quotes a configured secret is printed masked. */
    @Test
    void anUnexpectedFailureNeverPrintsAConfiguredSecret(@TempDir Path root) {
        KitConfig.load(root, Map.of("RHODESLI_SYNC_TOKEN", TOKEN + "\r", "R2_SECRET_ACCESS_KEY", R2_SECRET));
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream err = System.err;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            StepMain.report(new IllegalArgumentException("invalid header value: \"Bearer " + TOKEN + "\r\""));
            StepMain.report(new KitException("the store refused " + R2_SECRET, "check " + R2_SECRET));
        } finally {
            System.setErr(err);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        assertFalse(text.contains(TOKEN) || text.contains(R2_SECRET), text);
        assertTrue(text.contains("unexpected failure: java.lang.IllegalArgumentException: invalid header value: \"Bearer ****"), text);
    }
}
