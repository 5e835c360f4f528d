// CompareView driven offscreen with stories260K in both panes: the answers
// stream token by token in both, one pane after the other, with their stats;
// the next turn carries the history; Stop cancels the running answer and the
// queued pane does not start; Markdown/JSON exports hold the conversation;
// perplexity runs both and shows the ratio; a corrupt model folder gives an
// error signal naming the file and the view stays usable; sampling settings
// and the perplexity file persist through QSettings.

#include <QDoubleSpinBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>

#include "ui/chat_pane.h"
#include "ui/chat_template_dialog.h"
#include "ui/compare_view.h"
#include "ui_test_support.h"

using namespace glq::ui;

namespace {

constexpr int kTimeoutMs = 120'000;

glq::session::SamplingSettings greedy(int64_t max_tokens) {
    glq::session::SamplingSettings s;
    s.max_new_tokens = max_tokens;
    return s;
}

// Loads stories260K into both panes of `v`.
bool load_both(CompareView& v) {
    v.setModels(test::stories260k(), test::stories260k());
    QSignalSpy left(v.pane(CompareView::Left), &ChatPane::modelLoaded);
    QSignalSpy right(v.pane(CompareView::Right), &ChatPane::modelLoaded);
    v.loadModels();
    if (!left.count() && !left.wait(kTimeoutMs)) return false;
    if (!right.count() && !right.wait(kTimeoutMs)) return false;
    return v.pane(0)->isLoaded() && v.pane(1)->isLoaded();
}

QString joined(const QSignalSpy& spy) {
    QString s;
    for (const QList<QVariant>& args : spy) s += args.at(0).toString();
    return s;
}

QByteArray read_all(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

} // namespace

class TestCompareView : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("GLQ-test"));
        QCoreApplication::setApplicationName(QStringLiteral("ui-tests-compare"));
        QSettings().clear();
        if (!QFileInfo::exists(test::stories260k() + QStringLiteral("/config.json")))
            QFAIL("stories260K model not found (set GLQ_SHARED_DATA)");
    }

    void init() { QSettings().clear(); }

    void bothPanesStreamOneAfterTheOtherWithStats() {
        CompareView v(nullptr);
        QVERIFY(load_both(v));
        ChatPane* left = v.pane(CompareView::Left);
        ChatPane* right = v.pane(CompareView::Right);
        QTRY_VERIFY_WITH_TIMEOUT(left->memoryText().contains(QStringLiteral("Needs")), 10000);
        QVERIFY(left->memoryFits().has_value());
        QCOMPARE(left->modelInfo()->name, std::string("stories260K"));
        v.setSampling(greedy(30));

        QSignalSpy leftText(left, &ChatPane::textStreamed);
        QSignalSpy rightText(right, &ChatPane::textStreamed);
        QSignalSpy exchange(&v, &CompareView::exchangeFinished);
        QSignalSpy busy(&v, &CompareView::busyChanged);
        // The order of events: the right pane must start only after the left ended.
        QStringList order;
        connect(left, &ChatPane::textStreamed, this, [&] { if (order.isEmpty() || order.last() != "L") order << "L"; });
        connect(left, &ChatPane::replyEnded, this, [&] { order << "L-end"; });
        connect(right, &ChatPane::textStreamed, this, [&] { if (order.last() != "R") order << "R"; });
        connect(right, &ChatPane::replyEnded, this, [&] { order << "R-end"; });

        QVERIFY(v.send(QStringLiteral("Once upon a time")));
        QVERIFY(v.isBusy());
        QVERIFY(!right->load());  // no load beside a running exchange
        QVERIFY(exchange.wait(kTimeoutMs));
        QVERIFY(!v.isBusy());
        QCOMPARE(order, QStringList({"L", "L-end", "R", "R-end"}));
        QVERIFY(busy.count() >= 2);
        QCOMPARE(busy.first().at(0).toBool(), true);
        QCOMPARE(busy.last().at(0).toBool(), false);

        // Streamed token by token (more than one piece), adding up to the answer.
        QVERIFY(leftText.count() > 1);
        QVERIFY(rightText.count() > 1);
        const PaneReply l = left->lastReply();  // copies: the next turn replaces them
        const PaneReply r = right->lastReply();
        QVERIFY(l.finished && !l.cancelled);
        QCOMPARE(joined(leftText), l.text);
        QCOMPARE(joined(rightText), r.text);
        QVERIFY(!l.text.isEmpty());
        // The same model, greedy: the same answer.
        QCOMPARE(r.text, l.text);
        QVERIFY(left->transcriptText().contains(QStringLiteral("Once upon a time")));
        QVERIFY(left->transcriptText().contains(l.text));

        // Stats: shown and filled.
        for (ChatPane* p : {left, right}) {
            const QString stats = p->statsText();
            QVERIFY2(stats.contains(QStringLiteral("prefill")) && stats.contains(QStringLiteral("decode")) &&
                         stats.contains(QStringLiteral("tok/s")) && stats.contains(QStringLiteral("first token")) &&
                         stats.contains(QStringLiteral("weights")),
                     qPrintable(stats));
            const auto& s = p->lastReply().stats;
            QVERIFY(s.prefill_tokens_per_second > 0);
            QVERIFY(s.decode_tokens_per_second > 0);
            QVERIFY(s.time_to_first_token > 0);
            QVERIFY(s.weight_bytes > 0 && s.kv_cache_bytes > 0 && s.peak_memory_bytes > 0);
        }
        QCOMPARE(v.turns().size(), 1);
        QVERIFY(v.turns()[0].replies[0].has_value() && v.turns()[0].replies[1].has_value());

        // The next turn carries the history; its start is reused from the cache.
        const int64_t firstPrompt = l.stats.prompt_tokens;
        QVERIFY(v.send(QStringLiteral("The next day")));
        QVERIFY(exchange.wait(kTimeoutMs));
        const auto& s2 = left->lastReply().stats;
        QVERIFY(s2.prompt_tokens > firstPrompt + l.stats.generated_tokens - 2);
        QVERIFY(s2.prefilled_tokens < s2.prompt_tokens);
        const auto conv = v.conversationFor(CompareView::Left);
        QCOMPARE(conv.messages.size(), std::size_t(4));
        QCOMPARE(conv.messages[1].content, l.text.toStdString());
    }

    void exportsHoldTheConversation() {
        CompareView v(nullptr);
        QVERIFY(load_both(v));
        v.setSampling(greedy(20));
        v.setSystemPrompt(QStringLiteral("Tell short stories."));
        QSignalSpy exchange(&v, &CompareView::exchangeFinished);
        QVERIFY(v.send(QStringLiteral("Lily had a ball")));
        QVERIFY(exchange.wait(kTimeoutMs));
        const QString answer = v.pane(0)->lastReply().text;
        QVERIFY(!answer.isEmpty());

        QTemporaryDir dir;
        const QString md = dir.filePath(QStringLiteral("chat.md"));
        const QString js = dir.filePath(QStringLiteral("chat.json"));
        QVERIFY(v.exportMarkdown(md));
        QVERIFY(v.exportJson(js));
        // Atomic writes: nothing but the two files is left behind.
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 2);

        const QString mdText = QString::fromUtf8(read_all(md));
        QVERIFY(mdText.startsWith(QStringLiteral("# Compare & chat")));
        QVERIFY(mdText.contains(QStringLiteral("> Lily had a ball")));
        QVERIFY(mdText.contains(QStringLiteral("> Tell short stories.")));
        QVERIFY(mdText.contains(QStringLiteral("> ") + answer.split(QLatin1Char('\n')).first()));
        QVERIFY(mdText.contains(QStringLiteral("### Original")));
        QVERIFY(mdText.contains(QStringLiteral("### Quantized")));
        QVERIFY(mdText.contains(QStringLiteral("tok/s")));
        QVERIFY(mdText.contains(test::stories260k()));

        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(read_all(js), &err);
        QCOMPARE(err.error, QJsonParseError::NoError);
        const QJsonObject root = doc.object();
        QCOMPARE(root[QStringLiteral("format")].toString(), QStringLiteral("glq-workbench-compare-chat"));
        const QJsonArray models = root[QStringLiteral("models")].toArray();
        QCOMPARE(models.size(), 2);
        QCOMPARE(models[0].toObject()[QStringLiteral("path")].toString(), test::stories260k());
        QCOMPARE(models[0].toObject()[QStringLiteral("dtype")].toString(), QStringLiteral("f32"));
        const QJsonArray turns = root[QStringLiteral("turns")].toArray();
        QCOMPARE(turns.size(), 1);
        const QJsonObject t = turns[0].toObject();
        QCOMPARE(t[QStringLiteral("user")].toString(), QStringLiteral("Lily had a ball"));
        QCOMPARE(t[QStringLiteral("system_prompt")].toString(), QStringLiteral("Tell short stories."));
        QCOMPARE(t[QStringLiteral("sampling")].toObject()[QStringLiteral("max_new_tokens")].toInt(), 20);
        const QJsonArray replies = t[QStringLiteral("replies")].toArray();
        QCOMPARE(replies.size(), 2);
        for (int side : {0, 1}) {
            const QJsonObject r = replies[side].toObject();
            QCOMPARE(r[QStringLiteral("text")].toString(), v.pane(side)->lastReply().text);
            const QJsonObject stats = r[QStringLiteral("stats")].toObject();
            QCOMPARE(stats[QStringLiteral("generated_tokens")].toInt(),
                     static_cast<int>(v.pane(side)->lastReply().stats.generated_tokens));
            QVERIFY(stats[QStringLiteral("decode_tokens_per_second")].toDouble() > 0);
            QVERIFY(!stats[QStringLiteral("stop_reason")].toString().isEmpty());
        }

        // A folder that does not exist: one error naming the file, no file.
        QSignalSpy errors(&v, &CompareView::error);
        const QString bad = dir.filePath(QStringLiteral("missing/chat.md"));
        QVERIFY(!v.exportMarkdown(bad));
        QCOMPARE(errors.count(), 1);
        QVERIFY(errors[0][0].toString().contains(QStringLiteral("chat.md")));
        QVERIFY(!QFileInfo::exists(bad));

        // Clear forgets the conversation.
        v.clear();
        QVERIFY(v.turns().isEmpty());
        QVERIFY(v.pane(0)->transcriptText().isEmpty());
    }

    void stopCancelsTheRunningAnswerAndSkipsTheQueuedOne() {
        CompareView v(nullptr);
        QVERIFY(load_both(v));
        v.setSampling(greedy(450));  // long enough to be stopped midway (context 512)
        ChatPane* left = v.pane(0);
        QSignalSpy leftText(left, &ChatPane::textStreamed);
        QSignalSpy rightText(v.pane(1), &ChatPane::textStreamed);
        QSignalSpy exchange(&v, &CompareView::exchangeFinished);
        bool stopped = false;
        connect(left, &ChatPane::textStreamed, this, [&] {
            if (!stopped) {
                stopped = true;
                v.stop();
            }
        });
        QVERIFY(v.send(QStringLiteral("Once upon a time")));
        QVERIFY(exchange.wait(kTimeoutMs));
        QVERIFY(stopped);
        const PaneReply& r = left->lastReply();
        QVERIFY(r.finished);
        QVERIFY(r.cancelled);
        QCOMPARE(r.stats.stop_reason, std::string("cancelled"));
        QVERIFY2(r.stats.generated_tokens < 450, qPrintable(QString::number(r.stats.generated_tokens)));
        qInfo("stopped after %d tokens", static_cast<int>(r.stats.generated_tokens));
        QVERIFY(left->transcriptText().contains(QStringLiteral("(stopped)")));
        // The right pane was queued behind it: it never started.
        QCOMPARE(rightText.count(), 0);
        QVERIFY(!v.turns().last().replies[1].has_value());
        QVERIFY(!v.isBusy());

        // The view goes on: the stopped answer is part of the left pane's history.
        v.setSampling(greedy(5));
        QVERIFY(v.send(QStringLiteral("And then")));
        QVERIFY(exchange.wait(kTimeoutMs));
        QCOMPARE(v.conversationFor(0).messages.size(), std::size_t(4));
        QCOMPARE(v.conversationFor(1).messages.size(), std::size_t(2));
        QVERIFY(v.pane(1)->lastReply().finished);
    }

    void perplexityOfBothAndTheRatio() {
        QTemporaryDir dir;
        QFile src(test::shared_data() + QStringLiteral("/tinyshakespeare/input.txt"));
        QVERIFY(src.open(QIODevice::ReadOnly));
        const QString text = test::write_text(dir, QStringLiteral("heldout.txt"), src.read(20000));
        QSettings().setValue(QStringLiteral("compare/perplexitySeqlen"), 128);
        QSettings().setValue(QStringLiteral("compare/perplexityMaxWindows"), 2);

        CompareView v(nullptr);
        QVERIFY(load_both(v));
        QSignalSpy done(&v, &CompareView::perplexityFinished);
        QVERIFY(v.runPerplexity(text));
        QVERIFY(done.wait(kTimeoutMs));
        const auto& l = v.pane(0)->lastPerplexity();
        const auto& r = v.pane(1)->lastPerplexity();
        QVERIFY(l && r);
        QCOMPARE(l->windows, int64_t(2));
        QCOMPARE(l->seqlen, int64_t(128));
        QVERIFY(l->perplexity > 1.0);
        QCOMPARE(r->perplexity, l->perplexity);  // the same model
        QVERIFY2(v.perplexityText().contains(QStringLiteral("ratio")) &&
                     v.perplexityText().contains(QStringLiteral("1.0000")),
                 qPrintable(v.perplexityText()));
        QVERIFY(v.perplexityText().contains(QString::number(l->perplexity, 'f', 4)));

        // The file is remembered for the next time.
        CompareView again(nullptr);
        QCOMPARE(again.perplexityFile(), text);

        // A file that does not exist: an error naming it, nothing runs.
        QSignalSpy errors(&v, &CompareView::error);
        QVERIFY(!v.runPerplexity(dir.filePath(QStringLiteral("nope.txt"))));
        QCOMPARE(errors.count(), 1);
        QVERIFY(errors[0][0].toString().contains(QStringLiteral("nope.txt")));
        QVERIFY(!v.isBusy());
    }

    void corruptModelGivesAnErrorAndTheViewStaysUsable() {
        QTemporaryDir dir;
        for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
            QVERIFY(QFile::copy(test::stories260k() + QLatin1Char('/') + QLatin1String(f),
                                dir.filePath(QLatin1String(f))));
        test::write_text(dir, QStringLiteral("model.safetensors"), QByteArray("\x08\x00\x00\x00\x00\x00\x00\x00{broken}", 16));

        CompareView v(nullptr);
        QSignalSpy errors(&v, &CompareView::error);
        // Nothing loaded: sending is refused with an error, not a crash.
        QVERIFY(!v.send(QStringLiteral("hello")));
        QCOMPARE(errors.count(), 1);

        v.setModels(dir.path(), test::stories260k());
        ChatPane* left = v.pane(0);
        QTRY_VERIFY_WITH_TIMEOUT(left->memoryText().contains(QStringLiteral("model.safetensors")), 10000);
        QVERIFY(left->load());
        QTRY_VERIFY_WITH_TIMEOUT(!left->isBusy(), kTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 2, 5000);
        QVERIFY2(errors[1][0].toString().contains(QStringLiteral("model.safetensors")),
                 qPrintable(errors[1][0].toString() + QStringLiteral(": ") + errors[1][1].toString()));
        QVERIFY(!errors[1][1].toString().isEmpty());
        QVERIFY(!left->isLoaded());
        QVERIFY(left->statusText().contains(QStringLiteral("model.safetensors")));

        // Usable: the right pane loads and answers; the left one loads a good folder.
        QSignalSpy loaded(v.pane(1), &ChatPane::modelLoaded);
        QVERIFY(v.pane(1)->load());
        QVERIFY(loaded.wait(kTimeoutMs));
        v.setSampling(greedy(5));
        QSignalSpy exchange(&v, &CompareView::exchangeFinished);
        QVERIFY(v.send(QStringLiteral("Once")));
        QVERIFY(exchange.wait(kTimeoutMs));
        QVERIFY(v.pane(1)->lastReply().finished);
        QVERIFY(!v.turns().last().replies[0].has_value());

        QSignalSpy leftLoaded(left, &ChatPane::modelLoaded);
        left->setModelPath(test::stories260k());
        QVERIFY(left->load());
        QVERIFY(leftLoaded.wait(kTimeoutMs));
        QVERIFY(left->isLoaded());

        // A load cancelled at once leaves no model, whatever the job got to.
        QVERIFY(left->load());
        left->cancel();
        left->waitForIdle();
        QVERIFY(!left->isLoaded());
        QVERIFY(!left->isBusy());
        QVERIFY2(left->statusText().contains(QStringLiteral("cancelled")), qPrintable(left->statusText()));
        QVERIFY(left->load());
        QVERIFY(leftLoaded.wait(kTimeoutMs));

        // Empty prompt and bad template: refused with a message, nothing changes.
        QVERIFY(!v.send(QStringLiteral("   ")));
        QString problem;
        QVERIFY(!left->setChatTemplate(QStringLiteral("{% for m in messages %}"), false, &problem));
        QVERIFY2(problem.contains(QStringLiteral("chat template")), qPrintable(problem));
        QVERIFY(!left->chatTemplate()->overridden);
        QVERIFY(left->setChatTemplate(QStringLiteral("Q: {{ messages[-1]['content'] }} A:"), true));
        QVERIFY(left->chatTemplate()->overridden);
        const QJsonObject model0 = QJsonDocument::fromJson(v.json()).object()[QStringLiteral("models")].toArray()[0].toObject();
        QCOMPARE(model0[QStringLiteral("chat_template")].toObject()[QStringLiteral("source")].toString(),
                 QStringLiteral("Q: {{ messages[-1]['content'] }} A:"));
    }

    void templateDialogPreviewsAppliesAndResets() {
        CompareView v(nullptr);
        QVERIFY(load_both(v));
        v.setSampling(greedy(5));
        QSignalSpy exchange(&v, &CompareView::exchangeFinished);
        QVERIFY(v.send(QStringLiteral("Once")));
        QVERIFY(exchange.wait(kTimeoutMs));
        ChatPane* p = v.pane(0);
        const QString answer = p->lastReply().text;

        ChatTemplateDialog d(p);
        // stories260K ships no template: the plain one, over this pane's conversation.
        QCOMPARE(d.editor()->toPlainText(), QString::fromStdString(glq::session::plain_chat_template()));
        QCOMPARE(d.preview()->toPlainText(), QStringLiteral("Once\n") + answer);

        d.editor()->setPlainText(QStringLiteral("{% if %}"));
        d.updatePreview();
        QVERIFY(!d.apply());
        QVERIFY(!p->chatTemplate()->overridden);

        d.editor()->setPlainText(QStringLiteral("[{{ messages[0]['content'] }}]"));
        d.updatePreview();
        QCOMPARE(d.preview()->toPlainText(), QStringLiteral("[Once]"));
        QVERIFY(d.apply());
        QVERIFY(p->chatTemplate()->overridden);
        QCOMPARE(QString::fromStdString(p->chatTemplate()->source), QStringLiteral("[{{ messages[0]['content'] }}]"));

        d.resetToModel();
        QVERIFY(!p->chatTemplate()->overridden);
        QCOMPARE(d.editor()->toPlainText(), QString::fromStdString(glq::session::plain_chat_template()));
    }

    void samplingSettingsPersist() {
        {
            CompareView v(nullptr);
            glq::session::SamplingSettings s;
            s.temperature = 0.7;
            s.top_k = 40;
            s.top_p = 0.9;
            s.min_p = 0.05;
            s.repetition_penalty = 1.1;
            s.seed = 1234;
            s.max_new_tokens = 77;
            v.setSampling(s);
            v.setSystemPrompt(QStringLiteral("Be brief."));
        }
        CompareView v(nullptr);
        const auto s = v.sampling();
        QCOMPARE(s.temperature, 0.7);
        QCOMPARE(s.top_k, int64_t(40));
        QCOMPARE(s.top_p, 0.9);
        QCOMPARE(s.min_p, 0.05);
        QCOMPARE(s.repetition_penalty, 1.1);
        QCOMPARE(s.seed, uint64_t(1234));
        QCOMPARE(s.max_new_tokens, int64_t(77));
        QCOMPARE(v.systemPrompt(), QStringLiteral("Be brief."));
    }
};

GLQ_QTEST_MAIN(TestCompareView)
#include "test_compare_view.moc"
