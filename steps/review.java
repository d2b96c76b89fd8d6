///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java
//SOURCES ../lib/NpyPickleReader.java ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/MatchThresholds.java
//SOURCES ../lib/Matcher.java ../lib/Identities.java ../lib/IdentityEdits.java ../lib/FaceDistances.java ../lib/NearestIdentities.java ../lib/DistanceTerms.java ../lib/OnnxGraph.java ../lib/OnnxRuntimeLibraries.java ../lib/Photos.java ../lib/FaceQuality.java
//SOURCES ../lib/ReviewDecisions.java ../lib/ReviewApplyStep.java ../lib/ReviewFaces.java ../lib/ReviewApp.java
//SOURCES ../lib/ReviewServer.java ../lib/ReviewTerminal.java ../lib/ReviewSession.java ../lib/BackgroundWork.java ../lib/ArchiveRead.java

/*
 * Step 4's review: a person decides about each of step 4's proposals (data/proposals.json):
 * Accept (the face joins that person's candidates, never confirmed), Reject (remembered: the
 * pair is never proposed again) or Skip. Every decision is saved at once in
 * data/review/decisions-<run>.json, so a closed tab or a crash loses nothing.
 *
 * By default it serves the review page on this computer only (127.0.0.1, a random token in the
 * address it prints, and opens the browser when it can). "Done" on the page, or Enter here, ends
 * the review and applies the decisions to identities.json: a backup first, then one atomic write.
 * A decision whose face or identities changed since it was made is not applied, and is named.
 *
 * Options:  --terminal       the same review in this terminal (a / r / s / q), no browser
 *           --apply          apply the decisions already saved, without reviewing
 *           --port N         serve on port N (default: any free port)
 *           --no-open        only print the page's address, do not open a browser
 *           --dry-run        review and save decisions, but apply nothing (shows what would be applied)
 *           --data-dir DIR, --photos-dir DIR, --crops-dir DIR   where the archive, photos and crops are
 *           --json           one JSON object on stdout
 * Example:  ./jbang review                 (then open the address it prints)
 *           ./jbang review --terminal
 *           ./jbang review --apply --dry-run
 */
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "review", mixinStandardHelpOptions = true,
        description = {"Step 4's review: accept, reject or skip each proposal of data/proposals.json, on a local page",
                "(127.0.0.1 only) or in the terminal; every decision is saved at once in data/review/decisions-<run>.json.",
                "\"Done\" (or Enter) applies them to identities.json after a backup: accepted faces join the person's",
                "candidates (never confirmed), rejections are remembered so the pair is never proposed again.", "",
                "Example: ./jbang review        ./jbang review --terminal        ./jbang review --apply --dry-run"})
public class review implements Callable<Integer> {
    @Mixin KitOptions.Folders folders;
    @Mixin KitOptions.DryRun dryRun;
    @Mixin KitOptions.Output out;

    @Option(names = "--terminal", description = "review in this terminal (a / r / s / q) instead of a browser")
    boolean terminal;

    @Option(names = "--apply", description = "apply the decisions already saved (no review); with --dry-run: show what would be applied")
    boolean apply;

    @Option(names = "--port", paramLabel = "N", description = "serve the review page on 127.0.0.1:N (default: a free port)")
    Integer port;

    @Option(names = "--no-open", description = "only print the page's address; do not open a browser")
    boolean noOpen;

    public static void main(String... argv) {
        StepMain.exit(new review(), argv);
    }

    @Override
    public Integer call() throws Exception {
        if (apply && (terminal || port != null || noOpen)) {
            throw new StepMain.UsageException("--apply applies the saved decisions without a review: it takes no --terminal, --port or --no-open");
        }
        if (terminal && (port != null || noOpen)) throw new StepMain.UsageException("--port and --no-open are for the review page, not --terminal");
        if (port != null && (port < 1 || port > 65535)) throw new StepMain.UsageException("--port must be between 1 and 65535 (got " + port + ")");
        KitContext ctx = KitOptions.context(out, folders, dryRun.dryRun);
        if (apply) return StepRunner.runScript(new ReviewApplyStep(), ctx);
        ReviewSession.Outcome o = ReviewSession.run(ctx, new ReviewSession.Options(
                terminal ? ReviewSession.ReviewMode.TERMINAL : ReviewSession.ReviewMode.BROWSER,
                port == null ? 0 : port, noOpen ? ReviewSession.Browser.PRINT_ONLY : ReviewSession.Browser.OPEN));
        ctx.console().info("");
        for (String line : o.lines()) ctx.console().info(line);
        ctx.console().emitJson(o.toJson());
        return StepMain.OK;
    }
}
