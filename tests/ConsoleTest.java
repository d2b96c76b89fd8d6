import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ConsoleTest {
    @Test
    void endOfInputMeansNo() {
        assertFalse(new TestConsole("").console.confirm("Clear staging?"));
        TestConsole answers = new TestConsole("y\nno\nYES\n\n");
        assertTrue(answers.console.confirm("a?"));
        assertFalse(answers.console.confirm("b?"));
        assertTrue(answers.console.confirm("c?"));
        assertFalse(answers.console.confirm("d?"), "an empty answer is the default, no");
        assertTrue(new TestConsole("").text().isEmpty());
    }

    @Test
    void jsonModeKeepsStdoutForTheOneJsonObject() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        Console c = new Console(true, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                new ByteArrayInputStream(new byte[0]));
        c.info("human text");
        try (ProgressBar bar = c.progress("Working", 10, false)) {
            bar.advance(10);
        }
        c.emitJson(JsonFiles.object().put("ok", true));
        assertEquals("{\n  \"ok\": true\n}\n", out.toString(StandardCharsets.UTF_8));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("human text") && e.contains("Working [") && e.contains("10/10"), e);
    }

    @Test
    void progressBarShowsBytesAndRate() {
        TestConsole tc = new TestConsole();
        try (ProgressBar bar = tc.console.progress("Uploading", 2 * 1024 * 1024, true)) {
            bar.advance(1024 * 1024);
            bar.advance(1024 * 1024);
        }
        assertTrue(tc.text().contains("2.0 MB/2.0 MB") && tc.text().contains("/s"), tc.text());
    }

    /** A picocli command as every script is one: exit codes of StepMain for each kind of outcome. */
    @picocli.CommandLine.Command(name = "probe", mixinStandardHelpOptions = true)
    static class Probe implements java.util.concurrent.Callable<Integer> {
        @picocli.CommandLine.Option(names = "--data-dir") String dataDir;
        @picocli.CommandLine.Option(names = "--fail") String fail;

        @Override
        public Integer call() {
            if ("kit".equals(fail)) throw new KitException("broken", "fix it");
            if ("usage".equals(fail)) throw new StepMain.UsageException("--a and --b do not go together");
            if ("bug".equals(fail)) throw new IllegalStateException("a bug");
            return StepMain.OK;
        }
    }

    @Test
    void optionsParseAndMistakesAreUsageErrors() {
        assertEquals(StepMain.OK, StepMain.run(new Probe(), "--data-dir=foo"));
        assertEquals(StepMain.OK, StepMain.run(new Probe(), "--help"));
        assertEquals(StepMain.USAGE, StepMain.run(new Probe(), "--jsn"));
        assertEquals(StepMain.USAGE, StepMain.run(new Probe(), "--data-dir"));
        assertEquals(StepMain.USAGE, StepMain.run(new Probe(), "--fail", "usage"));
        assertEquals(StepMain.FAILED, StepMain.run(new Probe(), "--fail", "kit"));
        assertEquals(StepMain.FAILED, StepMain.run(new Probe(), "--fail", "bug"));
        // a value may start with "--" after the option that takes it, and "--" ends the options
        Probe p = new Probe();
        assertEquals(StepMain.OK, StepMain.run(p, "--data-dir", "--odd-folder-name"));
        assertEquals("--odd-folder-name", p.dataDir);
    }
}
