import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Every script's --help lists every option it accepts: the help is picocli's, generated from
 * the one declaration of each option, and this checks it for every command of the kit. Also
 * that --help exits 0 as a whole process, the way a user asks for it.
 */
class HelpTest {
    static final List<Object> COMMANDS = List.of(new process_uploads(), new backup(), new download_staged(), new ingest_inbox(),
            new cluster_new_faces(), new review(), new upload_to_r2(), new push_to_production(), new clear_staging(),
            new restore_backup(), new reembed(), new fetch_models(), new calibrate(), new rescan(), new sandbox(), new seed_archive(),
            new local_site(), new local_r2());

    @Test
    void theHelpOfEveryCommandListsEveryOptionItAccepts() {
        for (Object command : COMMANDS) {
            CommandLine cl = new CommandLine(command);
            String help = cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
            String name = cl.getCommandName();
            assertFalse(cl.getCommandSpec().options().isEmpty(), name);
            for (OptionSpec o : cl.getCommandSpec().options()) {
                for (String n : o.names()) assertTrue(help.contains(n), name + "'s --help does not list " + n + ":\n" + help);
                if (!o.usageHelp() && !o.versionHelp()) {
                    assertFalse(o.description().length == 0 || o.description()[0].isBlank(), name + ": option " + o.longestName() + " has no help text");
                }
            }
        }
    }

    @Test
    void helpAsAWholeProcessExitsZeroAndPrintsTheOptions() throws Exception {
        for (String script : List.of("steps/download_staged.java", "steps/clear_staging.java")) {
            KitProcess.Result r = KitProcess.run(script, "--help");
            assertEquals(0, r.exitCode(), r.all());
            assertTrue(r.stdout().contains("--dry-run") && r.stdout().contains("--json"), r.all());
        }
        KitProcess.Result bad = KitProcess.run("steps/download_staged.java", "--no-such-option");
        assertEquals(2, bad.exitCode(), bad.all());
        assertTrue(bad.stderr().contains("Unknown option: '--no-such-option'"), bad.all());
    }
}
