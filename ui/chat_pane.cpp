#include "ui/chat_pane.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFutureWatcher>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMetaObject>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollBar>
#include <QSettings>
#include <QColor>
#include <QFont>
#include <QTextCharFormat>
#include <QTextCursor>
#include <QTextEdit>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/common/error.h"
#include "ui/chat_template_dialog.h"
#include "ui/device_monitor.h"
#include "ui/model_summary.h"
#include "ui/worker.h"

namespace glq::ui {

namespace {

enum Outcome { Finished, Cancelled, Failed };

// The context the memory check sizes the KV cache for: a long chat, capped
// at the model's own context by the estimate.
constexpr int64_t kChatContext = 4096;

std::filesystem::path to_path(const QString& s) { return std::filesystem::path(s.toStdString()); }

QString rate(double tokens_per_second) {
    if (tokens_per_second <= 0) return QStringLiteral("—");
    return QStringLiteral("%1 tok/s").arg(tokens_per_second, 0, 'f', tokens_per_second < 100 ? 1 : 0);
}

QString duration(double seconds) {
    if (seconds < 1.0) return QStringLiteral("%1 ms").arg(seconds * 1000.0, 0, 'f', seconds < 0.01 ? 2 : 0);
    return QStringLiteral("%1 s").arg(seconds, 0, 'f', 2);
}

} // namespace

ChatPane::ChatPane(const QString& title, DeviceMonitor* devices, QWidget* parent)
    : QWidget(parent), title_(title), devices_(devices), session_(std::make_shared<session::ChatSession>()),
      worker_(new Worker(this)), estimateWatcher_(new QFutureWatcher<Estimate>(this)) {
    titleLabel_ = new QLabel(QStringLiteral("<b>%1</b>").arg(title.toHtmlEscaped()));

    path_ = new QLineEdit;
    path_->setPlaceholderText(tr("model folder (HF or GLQ checkpoint)"));
    path_->setClearButtonEnabled(true);
    browse_ = new QPushButton(tr("Browse…"));
    device_ = new QComboBox;
    device_->setToolTip(tr("Where the model runs"));
    dtype_ = new QComboBox;
    dtype_->addItem(tr("auto"), QStringLiteral("auto"));
    dtype_->addItem(QStringLiteral("f32"), QStringLiteral("f32"));
    dtype_->addItem(QStringLiteral("bf16"), QStringLiteral("bf16"));
    dtype_->addItem(QStringLiteral("f16"), QStringLiteral("f16"));
    dtype_->setToolTip(tr("Compute precision; auto = f32 on the CPU, bf16 on CUDA"));
    load_ = new QPushButton(tr("Load"));
    cancel_ = new QPushButton(tr("Cancel"));
    cancel_->setToolTip(tr("Stop loading (or the running answer / perplexity)"));
    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    progress_->setTextVisible(true);
    memory_ = new QLabel(QStringLiteral("—"));
    memory_->setWordWrap(true);
    memory_->setTextFormat(Qt::RichText);
    useCpu_ = new QPushButton(tr("Use CPU"));
    useCpu_->setToolTip(tr("The estimate does not fit this GPU: load on the CPU instead"));
    useCpu_->setVisible(false);
    model_ = new QLabel(tr("no model loaded"));
    model_->setWordWrap(true);
    model_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    template_ = new QPushButton(tr("Chat template…"));
    template_->setToolTip(tr("View or edit the chat template this model's prompts are rendered with"));

    transcript_ = new QTextEdit;
    transcript_->setReadOnly(true);
    transcript_->setObjectName(QStringLiteral("transcript"));
    stats_ = new QLabel;
    stats_->setWordWrap(true);
    stats_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    status_ = new QLabel;
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(path_, 1);
    pathRow->addWidget(browse_);
    auto* loadRow = new QHBoxLayout;
    loadRow->addWidget(device_, 1);
    loadRow->addWidget(dtype_);
    loadRow->addWidget(load_);
    loadRow->addWidget(cancel_);
    auto* memRow = new QHBoxLayout;
    memRow->addWidget(memory_, 1);
    memRow->addWidget(useCpu_);
    auto* modelRow = new QHBoxLayout;
    modelRow->addWidget(model_, 1);
    modelRow->addWidget(template_);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(titleLabel_);
    layout->addLayout(pathRow);
    layout->addLayout(loadRow);
    layout->addWidget(progress_);
    layout->addLayout(memRow);
    layout->addLayout(modelRow);
    layout->addWidget(transcript_, 1);
    layout->addWidget(stats_);
    layout->addWidget(status_);

    connect(browse_, &QPushButton::clicked, this, [this] {
        QSettings settings;
        const QString start = path_->text().isEmpty()
                                  ? settings.value(QStringLiteral("compare/lastModelDir"), QDir::homePath()).toString()
                                  : path_->text();
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Model folder for %1").arg(title_), start);
        if (dir.isEmpty()) return;
        settings.setValue(QStringLiteral("compare/lastModelDir"), QFileInfo(dir).absolutePath());
        setModelPath(dir);
    });
    connect(path_, &QLineEdit::editingFinished, this, &ChatPane::refreshMemory);
    connect(device_, &QComboBox::currentIndexChanged, this, &ChatPane::refreshMemory);
    connect(dtype_, &QComboBox::currentIndexChanged, this, &ChatPane::refreshMemory);
    connect(load_, &QPushButton::clicked, this, &ChatPane::load);
    connect(cancel_, &QPushButton::clicked, this, &ChatPane::cancel);
    connect(useCpu_, &QPushButton::clicked, this, [this] { setDevice(QStringLiteral("cpu")); });
    connect(template_, &QPushButton::clicked, this, &ChatPane::editChatTemplate);

    connect(worker_, &Worker::progress, this, &ChatPane::onJobProgress);
    connect(worker_, &Worker::finished, this, [this] { onJobEnded(Finished, {}, {}); });
    connect(worker_, &Worker::cancelled, this, [this] { onJobEnded(Cancelled, {}, {}); });
    connect(worker_, &Worker::failed, this, [this](const QString& where, const QString& problem) {
        onJobEnded(Failed, where, problem);
    });

    connect(estimateWatcher_, &QFutureWatcher<Estimate>::finished, this, [this] {
        const Estimate e = estimateWatcher_->result();
        if (estimateAgain_) {  // the choice changed while this one ran
            estimateAgain_ = false;
            refreshMemory();
            return;
        }
        if (e.key != estimateKey_) return;
        shownKey_ = e.key;
        if (!e.memory) {
            fits_.reset();
            memory_->setText(QStringLiteral("<span style='color:#b00020'>%1</span>").arg(e.error.toHtmlEscaped()));
            useCpu_->setVisible(false);
            return;
        }
        const session::MemoryEstimate& m = *e.memory;
        const DeviceInfo d = devices_ ? devices_->device(device()) : cpu_device_info();
        const QString needs = tr("Needs ≈ <b>%1</b> (weights %2 + KV cache %3 + workspace %4)")
                                  .arg(format_bytes(m.total()), format_bytes(m.weights), format_bytes(m.kv_cache),
                                       format_bytes(m.workspace));
        if (d.id != device()) {
            // A device the monitor does not list (no nvidia-smi reading):
            // say so rather than compare with another device's memory.
            fits_.reset();
            memory_->setText(needs + tr("<br>free memory on %1 is not known").arg(device()));
            useCpu_->setVisible(false);
            return;
        }
        quint64 free = d.free_bytes();
        // A model loaded by this pane on that device is released before the next load.
        if (info_ && QString::fromStdString(info_->device) == d.id) free += info_->weight_bytes;
        fits_ = m.total() <= free;
        if (*fits_)
            memory_->setText(needs + tr("<br><span style='color:#1b7a2f'>fits: %1 free on %2</span>")
                                         .arg(format_bytes(free), d.id));
        else
            memory_->setText(needs + tr("<br><span style='color:#b00020'><b>will not fit</b>: only %1 free on %2%3</span>")
                                         .arg(format_bytes(free), d.id,
                                              d.is_gpu() ? tr(" — use the CPU") : QString()));
        useCpu_->setVisible(!*fits_ && d.is_gpu());
    });

    if (devices_) connect(devices_, &DeviceMonitor::updated, this, &ChatPane::refreshDevices);
    refreshDevices();
    updateControls();
    progress_->setVisible(false);
}

ChatPane::~ChatPane() {
    // The job captures the session and posts to this pane: end it before
    // the members go.
    worker_->cancel();
    worker_->wait();
    estimateWatcher_->waitForFinished();
}

QString ChatPane::modelPath() const { return path_->text().trimmed(); }

void ChatPane::setModelPath(const QString& path) {
    path_->setText(path);
    refreshMemory();
}

QString ChatPane::device() const { return device_->currentData().toString(); }

void ChatPane::setDevice(const QString& id) {
    int i = device_->findData(id);
    if (i < 0) {
        // Not listed (yet): keep the choice rather than silently picking another.
        device_->addItem(id, id);
        i = device_->count() - 1;
    }
    device_->setCurrentIndex(i);
}

QString ChatPane::dtype() const { return dtype_->currentData().toString(); }

void ChatPane::setDtype(const QString& dtype) {
    const int i = dtype_->findData(dtype);
    if (i >= 0) dtype_->setCurrentIndex(i);
}

QString ChatPane::modelLabel() const {
    if (!info_) return {};
    return QStringLiteral("%1 (%2, %3 on %4)")
        .arg(QString::fromStdString(info_->name), QString::fromStdString(info_->model_type),
             QString::fromStdString(info_->dtype), QString::fromStdString(info_->device));
}

QString ChatPane::memoryText() const { return memory_->text(); }

bool ChatPane::isBusy() const { return worker_->isRunning(); }

void ChatPane::refreshDevices() {
    const QString current = device_->count() ? device() : QStringLiteral("cpu");
    const QSignalBlocker block(device_);
    device_->clear();
    const QVector<DeviceInfo> list = devices_ ? devices_->devices() : QVector<DeviceInfo>{cpu_device_info()};
    for (const DeviceInfo& d : list)
        device_->addItem(d.is_gpu() ? QStringLiteral("%1 — %2").arg(d.id, d.name) : tr("CPU"), d.id);
    int i = device_->findData(current);
    if (i < 0) {
        device_->addItem(current, current);
        i = device_->count() - 1;
    }
    device_->setCurrentIndex(i);
    refreshMemory();
}

void ChatPane::refreshMemory() {
    const QString path = modelPath();
    if (path.isEmpty()) {
        fits_.reset();
        estimateKey_.clear();
        shownKey_.clear();
        memory_->setText(tr("choose a model folder to see the memory it needs"));
        useCpu_->setVisible(false);
        return;
    }
    const QString dev = device(), dt = dtype();
    estimateKey_ = path + QLatin1Char('|') + dev + QLatin1Char('|') + dt;
    if (estimateWatcher_->isRunning()) {
        estimateAgain_ = true;
        return;
    }
    // A re-check of the same choice (devices polled, model loaded) keeps the
    // old read-out until the new one is there.
    if (estimateKey_ != shownKey_) memory_->setText(tr("checking the memory it needs…"));
    const QString key = estimateKey_;
    estimateWatcher_->setFuture(QtConcurrent::run([key, path, dev, dt]() {
        Estimate e;
        e.key = key;
        try {
            e.memory = session::estimate_load_memory(to_path(path), dev.toStdString(), dt.toStdString(), kChatContext);
        } catch (const glq::Error& err) {
            e.error = QString::fromStdString(err.what());
        } catch (const std::exception& err) {
            e.error = QString::fromUtf8(err.what());
        }
        return e;
    }));
}

void ChatPane::setLoadAllowed(bool allowed) {
    loadAllowed_ = allowed;
    updateControls();
}

void ChatPane::updateControls() {
    const bool busy = isBusy();
    load_->setEnabled(!busy && loadAllowed_);
    path_->setEnabled(!busy || job_ != Job::Load);
    browse_->setEnabled(!busy);
    device_->setEnabled(!busy);
    dtype_->setEnabled(!busy);
    cancel_->setVisible(busy);
    template_->setEnabled(!busy && isLoaded());
}

void ChatPane::setStatus(const QString& text, bool isError) {
    status_->setStyleSheet(isError ? QStringLiteral("color:#b00020") : QString());
    status_->setText(text);
    if (!text.isEmpty()) emit statusMessage(title_ + QStringLiteral(": ") + text);
}

QString ChatPane::statusText() const { return status_->text(); }

bool ChatPane::load() {
    if (isBusy() || !loadAllowed_) return false;
    const QString path = modelPath();
    if (path.isEmpty()) {
        setStatus(tr("choose a model folder first"), true);
        emit failed(title_, tr("no model folder chosen"));
        return false;
    }
    QSettings().setValue(QStringLiteral("compare/lastModelDir"), QFileInfo(path).absolutePath());
    // The session releases its model first (see ChatSession::load).
    info_.reset();
    showModelInfo();
    loadingPath_ = path;
    job_ = Job::Load;
    const session::LoadSettings settings{device().toStdString(), dtype().toStdString()};
    auto s = session_;
    worker_->start(tr("Loading %1").arg(QFileInfo(path).fileName()),
                   [s, path, settings](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
                       s->load(to_path(path), settings, report, &cancel);
                   });
    progress_->setVisible(true);
    progress_->setValue(0);
    progress_->setFormat(tr("loading…"));
    setStatus(tr("loading %1 on %2…").arg(path, device()));
    updateControls();
    emit busyChanged(true);
    return true;
}

bool ChatPane::generate(const session::Conversation& conversation, const session::SamplingSettings& sampling) {
    if (isBusy() || !isLoaded()) return false;
    job_ = Job::Generate;
    lastReply_ = PaneReply{};
    lastReply_.model = QString::fromStdString(info_->path.string());
    streamedTokens_ = 0;
    pendingReply_ = std::make_shared<std::optional<session::ChatReply>>();
    beginAnswer();

    // Tokens arrive on the job thread; each is posted to this pane, ahead of
    // the Worker's end signal (same thread's queue), so the answer is whole
    // when replyEnded() fires.
    QPointer<ChatPane> self(this);
    auto s = session_;
    auto out = pendingReply_;
    worker_->start(tr("Answering"), [s, out, conversation, sampling, self](const glq::ProgressFn&,
                                                                          const glq::CancelToken& cancel) {
        const auto on_text = [self](int32_t id, const std::string& text) {
            const QString piece = QString::fromStdString(text);
            QMetaObject::invokeMethod(
                self.data(), [self, id, piece] { if (self) self->onToken(id, piece); }, Qt::QueuedConnection);
        };
        *out = s->generate(conversation, sampling, on_text, &cancel);
    });
    stats_->setText(tr("prefilling…"));
    setStatus(QString());
    updateControls();
    emit busyChanged(true);
    return true;
}

bool ChatPane::runPerplexity(const QString& textFile, const session::PerplexitySettings& settings) {
    if (isBusy() || !isLoaded()) return false;
    job_ = Job::Perplexity;
    lastPerplexity_.reset();
    pendingPerplexity_ = std::make_shared<std::optional<session::TextPerplexity>>();
    auto s = session_;
    auto out = pendingPerplexity_;
    worker_->start(tr("Perplexity"), [s, out, textFile, settings](const glq::ProgressFn& report,
                                                                  const glq::CancelToken& cancel) {
        *out = s->perplexity(to_path(textFile), settings, report, &cancel);
    });
    progress_->setVisible(true);
    progress_->setValue(0);
    progress_->setFormat(tr("perplexity…"));
    setStatus(tr("perplexity on %1…").arg(QFileInfo(textFile).fileName()));
    updateControls();
    emit busyChanged(true);
    return true;
}

void ChatPane::cancel() { worker_->cancel(); }

void ChatPane::waitForIdle() {
    worker_->wait();
    // The end signal travels through the event queue: deliver it.
    while (job_ != Job::None) QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
}

void ChatPane::onJobProgress(const JobProgress& p) {
    if (p.total > 0) {
        progress_->setRange(0, 1000);
        progress_->setValue(p.permille());
        progress_->setFormat(QStringLiteral("%1 %2/%3 %4  %5")
                                 .arg(p.stage).arg(p.done).arg(p.total).arg(p.unit, format_eta(p.eta_s)));
    } else {
        progress_->setRange(0, 0);
    }
}

void ChatPane::beginAnswer() {
    QTextCursor c(transcript_->document());
    c.movePosition(QTextCursor::End);
    QTextCharFormat heading;
    heading.setFontWeight(QFont::Bold);
    heading.setForeground(QColor(0x1b, 0x4f, 0x9c));
    if (!transcript_->document()->isEmpty()) c.insertBlock();
    c.insertText(info_ ? QString::fromStdString(info_->name) + QLatin1Char(':') : tr("Model:"), heading);
    c.insertBlock();
    c.setCharFormat(QTextCharFormat());
}

void ChatPane::onToken(int id, const QString& text) {
    if (job_ != Job::Generate) return;
    if (id >= 0) ++streamedTokens_;
    if (!text.isEmpty()) {
        QTextCursor c(transcript_->document());
        c.movePosition(QTextCursor::End);
        c.insertText(text, QTextCharFormat());
        transcript_->verticalScrollBar()->setValue(transcript_->verticalScrollBar()->maximum());
        emit textStreamed(text);
    }
    if (id >= 0) stats_->setText(tr("%n token(s)…", nullptr, streamedTokens_));
}

void ChatPane::onJobEnded(int outcome, const QString& where, const QString& problem) {
    const Job job = job_;
    job_ = Job::None;
    progress_->setVisible(false);
    progress_->setRange(0, 1000);
    updateControls();
    const QString message = where.isEmpty() ? problem : where + QStringLiteral(": ") + problem;

    switch (job) {
    case Job::Load:
        if (outcome == Finished) {
            info_ = session_->info();
            setStatus(tr("loaded in %1").arg(duration(info_->load_seconds)));
            showModelInfo();
            refreshMemory();
            emit busyChanged(false);
            emit modelLoaded(loadingPath_);
            return;
        }
        // A cancel that came after the last tensor still means "no model":
        // release what the job may have finished loading.
        if (session_->loaded()) session_->unload();
        showModelInfo();
        setStatus(outcome == Cancelled ? tr("loading cancelled: no model loaded") : message, outcome == Failed);
        emit busyChanged(false);
        if (outcome == Failed) emit failed(where.isEmpty() ? loadingPath_ : where, problem);
        return;

    case Job::Generate: {
        if (pendingReply_ && pendingReply_->has_value()) {
            const session::ChatReply& r = **pendingReply_;
            lastReply_.text = QString::fromStdString(r.text);
            lastReply_.stats = r.stats;
            lastReply_.finished = true;
            lastReply_.cancelled = r.cancelled();
        } else {
            lastReply_.cancelled = outcome == Cancelled;
            lastReply_.error = outcome == Failed ? message : QString();
        }
        pendingReply_.reset();
        if (lastReply_.finished) {
            const session::ChatStats& s = lastReply_.stats;
            QString memory = tr("weights %1 + KV %2").arg(format_bytes(s.weight_bytes), format_bytes(s.kv_cache_bytes));
            memory += s.peak_is_process_rss ? tr("; process peak RSS %1").arg(format_bytes(s.peak_memory_bytes))
                                            : tr("; device peak %1").arg(format_bytes(s.peak_memory_bytes));
            stats_->setText(tr("prefill %1 (%2 tokens) · decode %3 (%4 tokens) · first token %5 · %6 · stop: %7")
                                .arg(rate(s.prefill_tokens_per_second))
                                .arg(s.prefilled_tokens)
                                .arg(rate(s.decode_tokens_per_second))
                                .arg(s.generated_tokens)
                                .arg(duration(s.time_to_first_token), memory,
                                     QString::fromStdString(s.stop_reason)) +
                            (s.cuda_graph ? tr(" · CUDA graph") : QString()));
            if (lastReply_.cancelled) showNote(tr("(stopped)"));
        } else if (lastReply_.cancelled) {
            stats_->setText(QString());
            showNote(tr("(stopped before the first token)"));
        } else {
            stats_->setText(QString());
            showNote(tr("(failed: %1)").arg(message));
            setStatus(message, true);
        }
        emit busyChanged(false);
        if (outcome == Failed) emit failed(where.isEmpty() ? title_ : where, problem);
        emit replyEnded();
        return;
    }

    case Job::Perplexity:
        if (outcome == Finished && pendingPerplexity_ && pendingPerplexity_->has_value()) {
            lastPerplexity_ = **pendingPerplexity_;
            const session::TextPerplexity& r = *lastPerplexity_;
            setStatus(tr("perplexity %1 on %2 (%3 windows of %4 tokens, %5)")
                          .arg(r.perplexity, 0, 'f', 4)
                          .arg(QString::fromStdString(r.text_file.filename().string()))
                          .arg(r.windows)
                          .arg(r.seqlen)
                          .arg(duration(r.seconds)));
        } else {
            setStatus(outcome == Cancelled ? tr("perplexity cancelled") : message, outcome == Failed);
        }
        pendingPerplexity_.reset();
        emit busyChanged(false);
        if (outcome == Failed) emit failed(where.isEmpty() ? title_ : where, problem);
        emit perplexityEnded();
        return;

    case Job::None: break;
    }
}

void ChatPane::showModelInfo() {
    updateControls();
    if (!info_) {
        model_->setText(tr("no model loaded"));
        return;
    }
    const session::ModelInfo& m = *info_;
    QString quant = tr("dense");
    if (m.quantized)
        quant = m.bpw ? tr("GLQ %1 bpw").arg(*m.bpw, 0, 'g', 3) : tr("GLQ");
    model_->setText(tr("<b>%1</b> — %2, %3 parameters, %4, %5 on %6, weights %7 in memory")
                        .arg(QString::fromStdString(m.name).toHtmlEscaped(), QString::fromStdString(m.model_type),
                             format_count(m.parameters), quant, QString::fromStdString(m.dtype),
                             QString::fromStdString(m.device), format_bytes(m.weight_bytes)));
    model_->setToolTip(QString::fromStdString(m.path.string()));
}

std::optional<session::SamplingSettings> ChatPane::defaultSampling() const {
    if (!isLoaded() || isBusy()) return std::nullopt;
    return session_->default_sampling();
}

std::optional<session::TemplateInfo> ChatPane::chatTemplate() const {
    if (!isLoaded() || isBusy()) return std::nullopt;
    return session_->chat_template();
}

QString ChatPane::modelChatTemplate() const {
    if (!isLoaded() || isBusy()) return {};
    return QString::fromStdString(session_->model_chat_template());
}

bool ChatPane::setChatTemplate(const QString& source, bool addSpecialTokens, QString* error) {
    if (!isLoaded() || isBusy()) return false;
    try {
        session_->set_chat_template(source.toStdString(), addSpecialTokens);
    } catch (const glq::Error& e) {
        if (error) *error = QString::fromStdString(e.what());
        return false;
    }
    setStatus(tr("using your chat template"));
    return true;
}

bool ChatPane::resetChatTemplate() {
    if (!isLoaded() || isBusy()) return false;
    session_->reset_chat_template();
    setStatus(tr("using the model's chat template"));
    return true;
}

QString ChatPane::previewChatTemplate(const QString& source, QString* error) const {
    if (!isLoaded() || isBusy()) return {};
    session::Conversation c;
    if (conversationProvider_) c = conversationProvider_();
    if (c.messages.empty()) c.messages.push_back({"user", "Hello!"});
    try {
        return QString::fromStdString(session_->render_with(source.toStdString(), c));
    } catch (const glq::Error& e) {
        if (error) *error = QString::fromStdString(e.what());
        return {};
    }
}

void ChatPane::editChatTemplate() {
    if (!isLoaded() || isBusy()) return;
    ChatTemplateDialog dialog(this, this);
    dialog.exec();
}

void ChatPane::showUserMessage(const QString& text) {
    QTextCursor c(transcript_->document());
    c.movePosition(QTextCursor::End);
    QTextCharFormat heading;
    heading.setFontWeight(QFont::Bold);
    if (!transcript_->document()->isEmpty()) c.insertBlock();
    c.insertText(tr("You:"), heading);
    c.insertBlock();
    c.insertText(text, QTextCharFormat());
}

void ChatPane::showNote(const QString& text) {
    QTextCursor c(transcript_->document());
    c.movePosition(QTextCursor::End);
    QTextCharFormat grey;
    grey.setForeground(QColor(0x70, 0x70, 0x70));
    grey.setFontItalic(true);
    c.insertText(QStringLiteral(" ") + text, grey);
}

void ChatPane::clearTranscript() {
    transcript_->clear();
    stats_->clear();
    lastReply_ = PaneReply{};
}

QString ChatPane::transcriptText() const { return transcript_->toPlainText(); }

QString ChatPane::statsText() const { return stats_->text(); }

} // namespace glq::ui
