#include "ui/compare_view.h"

#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>
#include <climits>
#include <functional>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "ui/device_monitor.h"
#include "ui/model_summary.h"

namespace glq::ui {

namespace {

const QString kGroup = QStringLiteral("compare/");

QString key(const char* name) { return kGroup + QLatin1String(name); }

QJsonObject stats_json(const session::ChatStats& s) {
    QJsonObject o;
    o[QStringLiteral("prompt_tokens")] = static_cast<qint64>(s.prompt_tokens);
    o[QStringLiteral("prefilled_tokens")] = static_cast<qint64>(s.prefilled_tokens);
    o[QStringLiteral("generated_tokens")] = static_cast<qint64>(s.generated_tokens);
    o[QStringLiteral("prefill_seconds")] = s.prefill_seconds;
    o[QStringLiteral("prefill_tokens_per_second")] = s.prefill_tokens_per_second;
    o[QStringLiteral("time_to_first_token_seconds")] = s.time_to_first_token;
    o[QStringLiteral("decode_seconds")] = s.decode_seconds;
    o[QStringLiteral("decode_tokens_per_second")] = s.decode_tokens_per_second;
    o[QStringLiteral("total_seconds")] = s.total_seconds;
    o[QStringLiteral("weight_bytes")] = static_cast<qint64>(s.weight_bytes);
    o[QStringLiteral("kv_cache_bytes")] = static_cast<qint64>(s.kv_cache_bytes);
    o[QStringLiteral("peak_memory_bytes")] = static_cast<qint64>(s.peak_memory_bytes);
    o[QStringLiteral("peak_memory_kind")] =
        s.peak_is_process_rss ? QStringLiteral("process_peak_rss") : QStringLiteral("device_peak_allocated");
    o[QStringLiteral("cuda_graph")] = s.cuda_graph;
    o[QStringLiteral("stop_reason")] = QString::fromStdString(s.stop_reason);
    return o;
}

QJsonObject sampling_json(const session::SamplingSettings& s) {
    QJsonObject o;
    o[QStringLiteral("temperature")] = s.temperature;
    o[QStringLiteral("top_k")] = static_cast<qint64>(s.top_k);
    o[QStringLiteral("top_p")] = s.top_p;
    o[QStringLiteral("min_p")] = s.min_p;
    o[QStringLiteral("repetition_penalty")] = s.repetition_penalty;
    o[QStringLiteral("seed")] = static_cast<qint64>(s.seed);
    o[QStringLiteral("max_new_tokens")] = static_cast<qint64>(s.max_new_tokens);
    return o;
}

QString sampling_text(const session::SamplingSettings& s) {
    QString t = s.temperature <= 0 ? QStringLiteral("greedy")
                                   : QStringLiteral("temperature %1").arg(s.temperature);
    if (s.temperature > 0) {
        if (s.top_k > 0) t += QStringLiteral(", top-k %1").arg(s.top_k);
        if (s.top_p < 1) t += QStringLiteral(", top-p %1").arg(s.top_p);
        if (s.min_p > 0) t += QStringLiteral(", min-p %1").arg(s.min_p);
        t += QStringLiteral(", seed %1").arg(s.seed);
    }
    if (s.repetition_penalty != 1.0) t += QStringLiteral(", repetition penalty %1").arg(s.repetition_penalty);
    t += QStringLiteral(", at most %1 new tokens").arg(s.max_new_tokens);
    return t;
}

// Markdown blockquote: the text stays readable and a line starting with '#'
// or '-' in an answer does not turn into a heading or a list.
QString quoted(const QString& text) {
    QStringList lines = text.split(QLatin1Char('\n'));
    for (QString& l : lines) l = QStringLiteral("> ") + l;
    return lines.join(QLatin1Char('\n'));
}

bool write_atomic(const QString& path, const QByteArray& bytes, QString* where, QString* problem) {
    try {
        glq::write_file_atomic(std::filesystem::path(path.toStdString()),
                               std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())));
        return true;
    } catch (const glq::Error& e) {
        *where = QString::fromStdString(e.where());
        *problem = QString::fromStdString(e.problem());
    } catch (const std::exception& e) {
        *where = path;
        *problem = QString::fromUtf8(e.what());
    }
    return false;
}

} // namespace

CompareView::CompareView(QWidget* parent, DeviceMonitor* devices)
    : QWidget(parent), devices_(devices ? devices : new DeviceMonitor(this)) {
    panes_[Left] = new ChatPane(tr("Original"), devices_);
    panes_[Right] = new ChatPane(tr("Quantized"), devices_);
    panes_[Left]->setObjectName(QStringLiteral("leftPane"));
    panes_[Right]->setObjectName(QStringLiteral("rightPane"));
    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(panes_[Left]);
    split->addWidget(panes_[Right]);
    split->setChildrenCollapsible(false);

    // Sampling and system prompt.
    auto* settingsBox = new QGroupBox(tr("Sampling and system prompt"));
    system_ = new QPlainTextEdit;
    system_->setPlaceholderText(tr("system prompt (empty: none)"));
    system_->setMaximumHeight(60);
    temperature_ = new QDoubleSpinBox;
    temperature_->setRange(0.0, 10.0);
    temperature_->setSingleStep(0.05);
    temperature_->setDecimals(2);
    temperature_->setSpecialValueText(tr("0 (greedy)"));
    topK_ = new QSpinBox;
    topK_->setRange(0, 1'000'000);
    topK_->setSpecialValueText(tr("off"));
    topP_ = new QDoubleSpinBox;
    topP_->setRange(0.001, 1.0);
    topP_->setDecimals(3);
    topP_->setSingleStep(0.05);
    minP_ = new QDoubleSpinBox;
    minP_->setRange(0.0, 0.999);
    minP_->setDecimals(3);
    minP_->setSingleStep(0.01);
    minP_->setSpecialValueText(tr("off"));
    repetition_ = new QDoubleSpinBox;
    repetition_->setRange(0.01, 10.0);
    repetition_->setDecimals(2);
    repetition_->setSingleStep(0.05);
    seed_ = new QSpinBox;
    seed_->setRange(0, INT_MAX);
    maxTokens_ = new QSpinBox;
    maxTokens_->setRange(1, 1 << 20);
    auto* defaults = new QPushButton(tr("Model's defaults"));
    defaults->setToolTip(tr("Take the sampling settings from the model's generation_config.json"));

    auto* grid = new QGridLayout(settingsBox);
    grid->addWidget(new QLabel(tr("System prompt:")), 0, 0);
    grid->addWidget(system_, 0, 1, 1, 9);
    int col = 0;
    const auto addSetting = [&](const QString& label, QWidget* w) {
        grid->addWidget(new QLabel(label), 1, col++);
        grid->addWidget(w, 1, col++);
    };
    addSetting(tr("Temperature:"), temperature_);
    addSetting(tr("Top-k:"), topK_);
    addSetting(tr("Top-p:"), topP_);
    addSetting(tr("Min-p:"), minP_);
    col = 0;
    const auto addSetting2 = [&](const QString& label, QWidget* w) {
        grid->addWidget(new QLabel(label), 2, col++);
        grid->addWidget(w, 2, col++);
    };
    addSetting2(tr("Repetition penalty:"), repetition_);
    addSetting2(tr("Seed:"), seed_);
    addSetting2(tr("Max new tokens:"), maxTokens_);
    grid->addWidget(defaults, 2, col, 1, 2);

    // Prompt and actions.
    prompt_ = new QPlainTextEdit;
    prompt_->setPlaceholderText(tr("Ask both models… (Ctrl+Enter sends)"));
    prompt_->setMaximumHeight(80);
    send_ = new QPushButton(tr("Send"));
    send_->setDefault(true);
    stop_ = new QPushButton(tr("Stop"));
    clear_ = new QPushButton(tr("Clear"));
    export_ = new QPushButton(tr("Export"));
    auto* exportMenu = new QMenu(export_);
    exportMenu->addAction(tr("Markdown…"), this, [this] { exportAs(false); });
    exportMenu->addAction(tr("JSON…"), this, [this] { exportAs(true); });
    export_->setMenu(exportMenu);
    auto* buttons = new QVBoxLayout;
    buttons->addWidget(send_);
    buttons->addWidget(stop_);
    auto* buttons2 = new QVBoxLayout;
    buttons2->addWidget(clear_);
    buttons2->addWidget(export_);
    auto* promptRow = new QHBoxLayout;
    promptRow->addWidget(prompt_, 1);
    promptRow->addLayout(buttons);
    promptRow->addLayout(buttons2);

    // Perplexity.
    auto* pplBox = new QGroupBox(tr("Perplexity on held-out text"));
    pplFile_ = new QLineEdit;
    pplFile_->setPlaceholderText(tr("a UTF-8 text file (e.g. wiki.test.raw)"));
    pplFile_->setClearButtonEnabled(true);
    auto* pplBrowse = new QPushButton(tr("Browse…"));
    pplSeqlen_ = new QSpinBox;
    pplSeqlen_->setRange(2, 1 << 20);
    pplSeqlen_->setToolTip(tr("Window length in tokens (capped at each model's context)"));
    pplWindows_ = new QSpinBox;
    pplWindows_->setRange(0, 1 << 20);
    pplWindows_->setSpecialValueText(tr("all"));
    pplWindows_->setToolTip(tr("Score only the first N windows (all: the whole text)"));
    pplRun_ = new QPushButton(tr("Perplexity"));
    pplResult_ = new QLabel;
    pplResult_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    pplResult_->setWordWrap(true);
    auto* pplRow = new QHBoxLayout;
    pplRow->addWidget(pplFile_, 1);
    pplRow->addWidget(pplBrowse);
    pplRow->addWidget(new QLabel(tr("Window:")));
    pplRow->addWidget(pplSeqlen_);
    pplRow->addWidget(new QLabel(tr("Windows:")));
    pplRow->addWidget(pplWindows_);
    pplRow->addWidget(pplRun_);
    auto* pplLayout = new QVBoxLayout(pplBox);
    pplLayout->addLayout(pplRow);
    pplLayout->addWidget(pplResult_);

    status_ = new QLabel;
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split, 1);
    layout->addWidget(settingsBox);
    layout->addLayout(promptRow);
    layout->addWidget(pplBox);
    layout->addWidget(status_);

    for (int side : {Left, Right}) {
        ChatPane* p = panes_[static_cast<std::size_t>(side)];
        p->setConversationProvider([this, side] { return conversationFor(side); });
        connect(p, &ChatPane::busyChanged, this, &CompareView::onPaneBusyChanged);
        connect(p, &ChatPane::failed, this, &CompareView::fail);
        connect(p, &ChatPane::statusMessage, this, &CompareView::statusMessage);
        connect(p, &ChatPane::modelLoaded, this, [this, side](const QString& path) {
            QSettings().setValue(side == Left ? key("leftModel") : key("rightModel"), path);
            showStatus(tr("%1: %2 loaded").arg(pane(side)->title(), pane(side)->modelLabel()));
            updateControls();
        });
        connect(p, &ChatPane::replyEnded, this, [this, side] {
            if (exchangeRunning_ && !turns_.isEmpty())
                turns_.last().replies[static_cast<std::size_t>(side)] = pane(side)->lastReply();
            startNextAnswer();
        });
        connect(p, &ChatPane::perplexityEnded, this, [this, side] {
            perplexity_[static_cast<std::size_t>(side)] = pane(side)->lastPerplexity();
            startNextPerplexity();
        });
    }
    connect(send_, &QPushButton::clicked, this, &CompareView::sendPrompt);
    connect(prompt_, &QPlainTextEdit::textChanged, this, &CompareView::updateControls);
    connect(stop_, &QPushButton::clicked, this, &CompareView::stop);
    connect(clear_, &QPushButton::clicked, this, &CompareView::clear);
    connect(defaults, &QPushButton::clicked, this, &CompareView::useModelDefaults);
    auto* sendShortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), prompt_);
    sendShortcut->setContext(Qt::WidgetShortcut);
    connect(sendShortcut, &QShortcut::activated, this, &CompareView::sendPrompt);
    connect(pplBrowse, &QPushButton::clicked, this, [this] {
        const QString start = pplFile_->text().isEmpty() ? QDir::homePath() : QFileInfo(pplFile_->text()).absolutePath();
        const QString f = QFileDialog::getOpenFileName(this, tr("Held-out text for perplexity"), start,
                                                       tr("Text (*.txt *.raw);;All files (*)"));
        if (!f.isEmpty()) setPerplexityFile(f);
    });
    connect(pplRun_, &QPushButton::clicked, this, [this] { runPerplexity(pplFile_->text().trimmed()); });

    loadSettings();
    // Every change is kept at once: a crash never loses the settings.
    for (QDoubleSpinBox* w : {temperature_, topP_, minP_, repetition_})
        connect(w, &QDoubleSpinBox::valueChanged, this, &CompareView::saveSettings);
    for (QSpinBox* w : {topK_, seed_, maxTokens_, pplSeqlen_, pplWindows_})
        connect(w, &QSpinBox::valueChanged, this, &CompareView::saveSettings);
    connect(system_, &QPlainTextEdit::textChanged, this, &CompareView::saveSettings);
    connect(pplFile_, &QLineEdit::editingFinished, this, &CompareView::saveSettings);

    if (!devices) devices_->start(10000);  // a shared monitor is started by its owner
    updateControls();
}

CompareView::~CompareView() {
    // Stop the queues first, so an ending job does not start the next one.
    answerQueue_.clear();
    perplexityQueue_.clear();
    for (ChatPane* p : panes_) p->cancel();
}

session::SamplingSettings CompareView::sampling() const {
    session::SamplingSettings s;
    s.temperature = temperature_->value();
    s.top_k = topK_->value();
    s.top_p = topP_->value();
    s.min_p = minP_->value();
    s.repetition_penalty = repetition_->value();
    s.seed = static_cast<uint64_t>(seed_->value());
    s.max_new_tokens = maxTokens_->value();
    return s;
}

void CompareView::setSampling(const session::SamplingSettings& s) {
    temperature_->setValue(s.temperature);
    topK_->setValue(static_cast<int>(std::min<int64_t>(s.top_k, topK_->maximum())));
    topP_->setValue(s.top_p);
    minP_->setValue(s.min_p);
    repetition_->setValue(s.repetition_penalty);
    seed_->setValue(static_cast<int>(std::min<uint64_t>(s.seed, INT_MAX)));
    maxTokens_->setValue(static_cast<int>(std::min<int64_t>(s.max_new_tokens, maxTokens_->maximum())));
}

QString CompareView::systemPrompt() const { return system_->toPlainText(); }

void CompareView::setSystemPrompt(const QString& text) { system_->setPlainText(text); }

bool CompareView::isBusy() const { return panes_[Left]->isBusy() || panes_[Right]->isBusy(); }

QVector<int> CompareView::loadedSides() {
    QVector<int> sides;
    for (int side : {Left, Right})
        if (pane(side)->isLoaded()) sides << side;
    if (sides.isEmpty()) fail(tr("Compare"), tr("load a model in at least one pane first"));
    return sides;
}

void CompareView::saveSettings() {
    QSettings s;
    s.setValue(key("systemPrompt"), system_->toPlainText());
    s.setValue(key("temperature"), temperature_->value());
    s.setValue(key("topK"), topK_->value());
    s.setValue(key("topP"), topP_->value());
    s.setValue(key("minP"), minP_->value());
    s.setValue(key("repetitionPenalty"), repetition_->value());
    s.setValue(key("seed"), seed_->value());
    s.setValue(key("maxTokens"), maxTokens_->value());
    s.setValue(key("perplexityFile"), pplFile_->text().trimmed());
    s.setValue(key("perplexitySeqlen"), pplSeqlen_->value());
    s.setValue(key("perplexityMaxWindows"), pplWindows_->value());
}

void CompareView::loadSettings() {
    QSettings s;
    const session::SamplingSettings d;  // greedy, 256 tokens: what glqw generate does by default
    system_->setPlainText(s.value(key("systemPrompt")).toString());
    temperature_->setValue(s.value(key("temperature"), d.temperature).toDouble());
    topK_->setValue(s.value(key("topK"), static_cast<int>(d.top_k)).toInt());
    topP_->setValue(s.value(key("topP"), d.top_p).toDouble());
    minP_->setValue(s.value(key("minP"), d.min_p).toDouble());
    repetition_->setValue(s.value(key("repetitionPenalty"), d.repetition_penalty).toDouble());
    seed_->setValue(s.value(key("seed"), 0).toInt());
    maxTokens_->setValue(s.value(key("maxTokens"), static_cast<int>(d.max_new_tokens)).toInt());
    pplFile_->setText(s.value(key("perplexityFile")).toString());
    pplSeqlen_->setValue(s.value(key("perplexitySeqlen"), 2048).toInt());
    pplWindows_->setValue(s.value(key("perplexityMaxWindows"), 0).toInt());
    const QString left = s.value(key("leftModel")).toString(), right = s.value(key("rightModel")).toString();
    if (!left.isEmpty()) panes_[Left]->setModelPath(left);
    if (!right.isEmpty()) panes_[Right]->setModelPath(right);
}

void CompareView::setModels(const QString& left, const QString& right) {
    panes_[Left]->setModelPath(left);
    panes_[Right]->setModelPath(right);
}

void CompareView::loadModels() {
    for (ChatPane* p : panes_)
        if (!p->modelPath().isEmpty() && !p->isBusy()) p->load();
}

void CompareView::showStatus(const QString& text, bool isError) {
    status_->setStyleSheet(isError ? QStringLiteral("color:#b00020") : QString());
    status_->setText(text);
    if (!text.isEmpty()) emit statusMessage(text);
}

void CompareView::fail(const QString& where, const QString& problem) {
    showStatus(where.isEmpty() ? problem : where + QStringLiteral(": ") + problem, true);
    emit error(where, problem);
}

session::Conversation CompareView::conversationFor(int side, const QString& pendingUser) const {
    session::Conversation c;
    c.system_prompt = systemPrompt().toStdString();
    for (const Turn& t : turns_) {
        const auto& r = t.replies[static_cast<std::size_t>(side)];
        // A turn this pane did not answer (not loaded, failed, stopped
        // before its first token) is left out of its history.
        if (!r || !r->finished || r->text.isEmpty()) continue;
        c.messages.push_back({"user", t.user.toStdString()});
        c.messages.push_back({"assistant", r->text.toStdString()});
    }
    if (!pendingUser.isEmpty()) c.messages.push_back({"user", pendingUser.toStdString()});
    return c;
}

void CompareView::sendPrompt() {
    if (send(prompt_->toPlainText())) prompt_->clear();
}

bool CompareView::send(const QString& prompt) {
    if (isBusy()) {
        fail(tr("Compare"), tr("a model is busy: wait for it (or Stop) before sending"));
        return false;
    }
    if (prompt.trimmed().isEmpty()) {
        fail(tr("prompt"), tr("is empty"));
        return false;
    }
    const QVector<int> sides = loadedSides();
    if (sides.isEmpty()) return false;
    Turn t;
    t.user = prompt;
    t.systemPrompt = systemPrompt();
    t.sampling = sampling();
    try {
        t.sampling.validate();
    } catch (const glq::Error& e) {
        fail(QString::fromStdString(e.where()), QString::fromStdString(e.problem()));
        return false;
    }
    for (int side : sides) pane(side)->showUserMessage(prompt);
    turns_.append(t);
    answerQueue_ = sides;
    exchangeRunning_ = true;
    showStatus(QString());
    startNextAnswer();
    updateControls();
    return true;
}

void CompareView::startNextAnswer() {
    if (!exchangeRunning_) return;
    const Turn& turn = turns_.last();
    while (!answerQueue_.isEmpty()) {
        const int side = answerQueue_.takeFirst();
        ChatPane* p = pane(side);
        session::Conversation c = conversationFor(side, turn.user);
        c.system_prompt = turn.systemPrompt.toStdString();
        if (p->generate(c, turn.sampling)) return;
        p->showNote(tr("(skipped: the pane is busy or has no model)"));
    }
    exchangeRunning_ = false;
    updateControls();
    emit exchangeFinished();
}

void CompareView::stop() {
    const bool running = exchangeRunning_ || perplexityRunning_;
    answerQueue_.clear();
    perplexityQueue_.clear();
    // Only the pane doing the answer or perplexity: a load in the other pane
    // has its own Cancel.
    if (!running) return;
    for (ChatPane* p : panes_) {
        const bool loading = p->isBusy() && !p->isLoaded();
        if (p->isBusy() && !loading) p->cancel();
    }
    showStatus(tr("stopped"));
}

void CompareView::clear() {
    if (isBusy()) return;
    turns_.clear();
    for (ChatPane* p : panes_) p->clearTranscript();
    showStatus(tr("conversation cleared"));
    updateControls();
}

void CompareView::useModelDefaults() {
    for (ChatPane* p : panes_) {
        if (const auto d = p->defaultSampling()) {
            setSampling(*d);
            showStatus(tr("sampling settings from %1's generation_config.json").arg(p->modelLabel()));
            return;
        }
    }
    fail(tr("Compare"), tr("load a model first: its generation_config.json has the defaults"));
}

QString CompareView::perplexityFile() const { return pplFile_->text().trimmed(); }

void CompareView::setPerplexityFile(const QString& path) {
    pplFile_->setText(path);
    saveSettings();
}

bool CompareView::runPerplexity(const QString& textFile) {
    if (isBusy()) {
        fail(tr("Compare"), tr("a model is busy: wait for it (or Stop) before measuring perplexity"));
        return false;
    }
    if (textFile.isEmpty()) {
        fail(tr("perplexity"), tr("choose a held-out text file first"));
        return false;
    }
    if (!QFileInfo(textFile).isFile()) {
        fail(textFile, tr("does not exist or is not a file"));
        return false;
    }
    const QVector<int> sides = loadedSides();
    if (sides.isEmpty()) return false;
    if (pplFile_->text().trimmed() != textFile) pplFile_->setText(textFile);
    saveSettings();
    perplexity_ = {};
    perplexityRunFile_ = textFile;
    perplexityQueue_ = sides;
    perplexityRunning_ = true;
    pplResult_->setText(tr("running…"));
    startNextPerplexity();
    updateControls();
    return true;
}

void CompareView::startNextPerplexity() {
    if (!perplexityRunning_) return;
    session::PerplexitySettings settings;
    settings.seqlen = pplSeqlen_->value();
    settings.max_windows = pplWindows_->value();
    while (!perplexityQueue_.isEmpty()) {
        const int side = perplexityQueue_.takeFirst();
        if (pane(side)->runPerplexity(perplexityRunFile_, settings)) return;
    }
    perplexityRunning_ = false;
    updatePerplexityText();
    updateControls();
    emit perplexityFinished();
}

void CompareView::updatePerplexityText() {
    QStringList parts;
    for (int side : {Left, Right}) {
        const auto& r = perplexity_[static_cast<std::size_t>(side)];
        if (r) parts << tr("%1: <b>%2</b>").arg(pane(side)->title()).arg(r->perplexity, 0, 'f', 4);
    }
    const auto& l = perplexity_[Left];
    const auto& r = perplexity_[Right];
    if (l && r && l->perplexity > 0) {
        const double ratio = r->perplexity / l->perplexity;
        parts << tr("ratio %1/%2: <b>%3</b> (%4%5 %)")
                     .arg(pane(Right)->title(), pane(Left)->title())
                     .arg(ratio, 0, 'f', 4)
                     .arg(ratio >= 1 ? QStringLiteral("+") : QString())
                     .arg((ratio - 1) * 100, 0, 'f', 2);
        // Different tokenizers cut the text differently: the numbers are
        // per token, so the ratio would compare different things.
        if (l->total_tokens != r->total_tokens)
            parts << tr("<span style='color:#b00020'>not comparable: the tokenizers differ (%1 vs %2 tokens)</span>")
                         .arg(l->total_tokens)
                         .arg(r->total_tokens);
    }
    if (parts.isEmpty()) {
        pplResult_->setText(tr("no result (cancelled or failed)"));
        return;
    }
    const auto& any = l ? l : r;
    parts << tr("on %1, %2 windows of %3 tokens")
                 .arg(QFileInfo(QString::fromStdString(any->text_file.string())).fileName())
                 .arg(any->windows)
                 .arg(any->seqlen);
    pplResult_->setText(parts.join(QStringLiteral(" · ")));
}

QString CompareView::perplexityText() const { return pplResult_->text(); }

void CompareView::onPaneBusyChanged() {
    const bool busy = isBusy();
    updateControls();
    if (busy != busy_) {
        busy_ = busy;
        emit busyChanged(busy);
    }
}

void CompareView::updateControls() {
    const bool busy = isBusy();
    const bool anyLoaded = panes_[Left]->isLoaded() || panes_[Right]->isLoaded();
    send_->setEnabled(!busy && anyLoaded && !prompt_->toPlainText().trimmed().isEmpty());
    stop_->setEnabled(exchangeRunning_ || perplexityRunning_);
    clear_->setEnabled(!busy && !turns_.isEmpty());
    export_->setEnabled(!turns_.isEmpty());
    pplRun_->setEnabled(!busy && anyLoaded);
    for (ChatPane* p : panes_) p->setLoadAllowed(!exchangeRunning_ && !perplexityRunning_);
}

QString CompareView::markdown() const {
    QString md;
    md += QStringLiteral("# Compare & chat\n\n");
    md += tr("Exported %1 by GLQ Workbench %2.\n\n")
              .arg(QDateTime::currentDateTimeUtc().toString(Qt::ISODate), QStringLiteral(GLQ_WORKBENCH_VERSION));
    md += QStringLiteral("| | %1 | %2 |\n|---|---|---|\n").arg(pane(Left)->title(), pane(Right)->title());
    const auto row = [&](const QString& name, const std::function<QString(const session::ModelInfo&)>& f) {
        md += QStringLiteral("| %1 |").arg(name);
        for (int side : {Left, Right}) {
            const session::ModelInfo* m = pane(side)->modelInfo();
            md += QStringLiteral(" %1 |").arg(m ? f(*m) : QStringLiteral("—"));
        }
        md += QLatin1Char('\n');
    };
    row(tr("model"), [](const session::ModelInfo& m) { return QString::fromStdString(m.path.string()); });
    row(tr("architecture"), [](const session::ModelInfo& m) {
        return QStringLiteral("%1, %2 parameters").arg(QString::fromStdString(m.model_type), format_count(m.parameters));
    });
    row(tr("quantization"), [](const session::ModelInfo& m) {
        if (!m.quantized) return QStringLiteral("none");
        return m.bpw ? QStringLiteral("GLQ %1 bpw").arg(*m.bpw) : QStringLiteral("GLQ");
    });
    row(tr("device / dtype"), [](const session::ModelInfo& m) {
        return QStringLiteral("%1 / %2").arg(QString::fromStdString(m.device), QString::fromStdString(m.dtype));
    });
    row(tr("weights in memory"), [](const session::ModelInfo& m) { return format_bytes(m.weight_bytes); });
    md += QLatin1Char('\n');

    const auto& lp = perplexity_[Left];
    const auto& rp = perplexity_[Right];
    if (lp || rp) {
        md += QStringLiteral("## Perplexity\n\n");
        for (int side : {Left, Right}) {
            const auto& p = perplexity_[static_cast<std::size_t>(side)];
            if (p)
                md += QStringLiteral("- %1: **%2** (%3, %4 windows of %5 tokens)\n")
                          .arg(pane(side)->title())
                          .arg(p->perplexity, 0, 'f', 4)
                          .arg(QString::fromStdString(p->text_file.string()))
                          .arg(p->windows)
                          .arg(p->seqlen);
        }
        if (lp && rp && lp->perplexity > 0)
            md += QStringLiteral("- ratio %1/%2: **%3**\n")
                      .arg(pane(Right)->title(), pane(Left)->title())
                      .arg(rp->perplexity / lp->perplexity, 0, 'f', 4);
        md += QLatin1Char('\n');
    }

    QString lastSystem;
    for (int i = 0; i < turns_.size(); ++i) {
        const Turn& t = turns_[i];
        md += QStringLiteral("## Turn %1\n\n").arg(i + 1);
        if (i == 0 || t.systemPrompt != lastSystem)
            md += t.systemPrompt.isEmpty() ? tr("_System prompt: none._\n\n")
                                           : tr("**System prompt:**\n\n%1\n\n").arg(quoted(t.systemPrompt));
        lastSystem = t.systemPrompt;
        md += tr("_Sampling: %1._\n\n").arg(sampling_text(t.sampling));
        md += tr("**User:**\n\n%1\n\n").arg(quoted(t.user));
        for (int side : {Left, Right}) {
            const auto& r = t.replies[static_cast<std::size_t>(side)];
            md += QStringLiteral("### %1").arg(pane(side)->title());
            if (r && !r->model.isEmpty()) md += QStringLiteral(" (%1)").arg(QFileInfo(r->model).fileName());
            md += QStringLiteral("\n\n");
            if (!r) {
                md += tr("_no answer (no model loaded, or stopped before it ran)_\n\n");
                continue;
            }
            if (!r->finished) {
                md += r->cancelled ? tr("_stopped before the first token_\n\n")
                                   : tr("_failed: %1_\n\n").arg(r->error);
                continue;
            }
            md += quoted(r->text) + QStringLiteral("\n\n");
            const session::ChatStats& s = r->stats;
            md += tr("_%1 tokens · prefill %2 tok/s · decode %3 tok/s · first token %4 s · stop: %5_\n\n")
                      .arg(s.generated_tokens)
                      .arg(s.prefill_tokens_per_second, 0, 'f', 1)
                      .arg(s.decode_tokens_per_second, 0, 'f', 1)
                      .arg(s.time_to_first_token, 0, 'f', 3)
                      .arg(QString::fromStdString(s.stop_reason));
        }
    }
    return md;
}

QByteArray CompareView::json() const {
    QJsonObject root;
    root[QStringLiteral("format")] = QStringLiteral("glq-workbench-compare-chat");
    root[QStringLiteral("version")] = 1;
    root[QStringLiteral("exported")] = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
    root[QStringLiteral("workbench_version")] = QStringLiteral(GLQ_WORKBENCH_VERSION);

    QJsonArray models;
    for (int side : {Left, Right}) {
        QJsonObject m;
        m[QStringLiteral("pane")] = pane(side)->title();
        if (const session::ModelInfo* info = pane(side)->modelInfo()) {
            m[QStringLiteral("path")] = QString::fromStdString(info->path.string());
            m[QStringLiteral("model_type")] = QString::fromStdString(info->model_type);
            m[QStringLiteral("parameters")] = static_cast<qint64>(info->parameters);
            m[QStringLiteral("device")] = QString::fromStdString(info->device);
            m[QStringLiteral("dtype")] = QString::fromStdString(info->dtype);
            m[QStringLiteral("quantized")] = info->quantized;
            if (info->bpw) m[QStringLiteral("bpw")] = *info->bpw;
            m[QStringLiteral("weight_bytes")] = static_cast<qint64>(info->weight_bytes);
            if (const auto t = pane(side)->chatTemplate()) {
                QJsonObject ct;
                ct[QStringLiteral("from_model")] = t->from_model;
                ct[QStringLiteral("overridden")] = t->overridden;
                ct[QStringLiteral("add_special_tokens")] = t->add_special_tokens;
                // The model's own template is in its folder; anything else is recorded.
                if (!t->from_model) ct[QStringLiteral("source")] = QString::fromStdString(t->source);
                m[QStringLiteral("chat_template")] = ct;
            }
        } else {
            m[QStringLiteral("path")] = QJsonValue::Null;
        }
        models.append(m);
    }
    root[QStringLiteral("models")] = models;

    QJsonArray turns;
    for (const Turn& t : turns_) {
        QJsonObject o;
        o[QStringLiteral("system_prompt")] = t.systemPrompt;
        o[QStringLiteral("user")] = t.user;
        o[QStringLiteral("sampling")] = sampling_json(t.sampling);
        QJsonArray replies;
        for (int side : {Left, Right}) {
            const auto& r = t.replies[static_cast<std::size_t>(side)];
            if (!r) {
                replies.append(QJsonValue::Null);
                continue;
            }
            QJsonObject ro;
            ro[QStringLiteral("pane")] = pane(side)->title();
            ro[QStringLiteral("model")] = r->model;
            ro[QStringLiteral("text")] = r->text;
            ro[QStringLiteral("finished")] = r->finished;
            ro[QStringLiteral("cancelled")] = r->cancelled;
            if (!r->error.isEmpty()) ro[QStringLiteral("error")] = r->error;
            if (r->finished) ro[QStringLiteral("stats")] = stats_json(r->stats);
            replies.append(ro);
        }
        o[QStringLiteral("replies")] = replies;  // [left, right]; null: that pane did not answer
        turns.append(o);
    }
    root[QStringLiteral("turns")] = turns;

    if (perplexity_[Left] || perplexity_[Right]) {
        QJsonObject ppl;
        QJsonArray results;
        for (int side : {Left, Right}) {
            const auto& p = perplexity_[static_cast<std::size_t>(side)];
            if (!p) {
                results.append(QJsonValue::Null);
                continue;
            }
            QJsonObject r;
            r[QStringLiteral("pane")] = pane(side)->title();
            r[QStringLiteral("text_file")] = QString::fromStdString(p->text_file.string());
            r[QStringLiteral("perplexity")] = p->perplexity;
            r[QStringLiteral("tokens_scored")] = static_cast<qint64>(p->tokens_scored);
            r[QStringLiteral("windows")] = static_cast<qint64>(p->windows);
            r[QStringLiteral("seqlen")] = static_cast<qint64>(p->seqlen);
            r[QStringLiteral("total_tokens")] = static_cast<qint64>(p->total_tokens);
            r[QStringLiteral("seconds")] = p->seconds;
            results.append(r);
        }
        ppl[QStringLiteral("results")] = results;
        if (perplexity_[Left] && perplexity_[Right] && perplexity_[Left]->perplexity > 0)
            ppl[QStringLiteral("ratio_right_over_left")] = perplexity_[Right]->perplexity / perplexity_[Left]->perplexity;
        root[QStringLiteral("perplexity")] = ppl;
    }
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

bool CompareView::exportMarkdown(const QString& path) {
    QString where, problem;
    if (!write_atomic(path, markdown().toUtf8(), &where, &problem)) {
        fail(where, problem);
        return false;
    }
    showStatus(tr("conversation written to %1").arg(path));
    return true;
}

bool CompareView::exportJson(const QString& path) {
    QString where, problem;
    if (!write_atomic(path, json(), &where, &problem)) {
        fail(where, problem);
        return false;
    }
    showStatus(tr("conversation written to %1").arg(path));
    return true;
}

void CompareView::exportAs(bool asJson) {
    QSettings s;
    const QString dir = s.value(key("exportDir"), QDir::homePath()).toString();
    const QString suffix = asJson ? QStringLiteral(".json") : QStringLiteral(".md");
    QString path = QFileDialog::getSaveFileName(this, asJson ? tr("Export conversation as JSON")
                                                             : tr("Export conversation as Markdown"),
                                                dir + QStringLiteral("/conversation") + suffix,
                                                asJson ? tr("JSON (*.json)") : tr("Markdown (*.md)"));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += suffix;
    s.setValue(key("exportDir"), QFileInfo(path).absolutePath());
    if (asJson)
        exportJson(path);
    else
        exportMarkdown(path);
}

} // namespace glq::ui
