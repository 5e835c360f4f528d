#pragma once
// One side of the Compare & chat view: a model (folder chooser, device,
// precision, Load with progress and cancel, and the memory it will need on
// the chosen device before anything is loaded), the transcript with the
// answer streaming in token by token, and the speed and memory of the last
// answer. The model lives in a glq::session::ChatSession (the torch-free
// facade over the engine); loading, answering and perplexity run on this
// pane's own Worker, one job at a time, so the GUI thread never blocks.
//
// When the estimate does not fit the chosen device's free memory the pane
// says so in red and offers "Use CPU"; it never changes the device by itself.
//
// The conversation itself belongs to CompareView (both panes answer the
// same user turns); the pane only shows it and answers what it is given.

#include <QString>
#include <QWidget>
#include <functional>
#include <memory>
#include <optional>

#include "core/session/chat_session.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTextEdit;
template <typename T> class QFutureWatcher;

namespace glq::ui {

class DeviceMonitor;
class Worker;
struct JobProgress;

// One pane's answer to one user turn.
struct PaneReply {
    QString text;             // the answer (partial when cancelled)
    QString model;            // the folder of the model that answered
    bool finished = false;    // the model answered (possibly cancelled); false: it failed
    bool cancelled = false;   // stopped before it ended by itself
    QString error;            // why it failed
    session::ChatStats stats;
};

class ChatPane : public QWidget {
    Q_OBJECT
public:
    // `devices` lists the devices and their free memory (not owned).
    ChatPane(const QString& title, DeviceMonitor* devices, QWidget* parent = nullptr);
    ~ChatPane() override;  // cancels a running job and waits for it

    QString title() const { return title_; }

    // The model chosen in the path box, device and precision ("auto", "f32", "bf16", "f16").
    QString modelPath() const;
    void setModelPath(const QString& path);
    QString device() const;
    void setDevice(const QString& id);
    QString dtype() const;
    void setDtype(const QString& dtype);

    // The model loaded now (null when none).
    bool isLoaded() const { return info_.has_value(); }
    const session::ModelInfo* modelInfo() const { return info_ ? &*info_ : nullptr; }
    QString modelLabel() const;  // "stories260K (llama, f32 on cpu)", "" when none

    // The memory check for the chosen path/device/dtype (see the top).
    QString memoryText() const;
    std::optional<bool> memoryFits() const { return fits_; }  // nullopt: not known (yet)

    bool isBusy() const;
    // CompareView turns Load off while the other pane answers: a load beside
    // a running answer would skew its tok/s and, on CUDA, allocate while the
    // answer may be capturing its decode step as a CUDA graph.
    void setLoadAllowed(bool allowed);

    // Each starts a job on the pane's Worker and returns false (doing
    // nothing) when one is running or, except for load(), no model is loaded.
    bool load();
    bool generate(const session::Conversation& conversation, const session::SamplingSettings& sampling);
    bool runPerplexity(const QString& textFile, const session::PerplexitySettings& settings);
    // Asks the running job to stop (an answer keeps the tokens it has).
    void cancel();
    // Blocks until the running job has ended and its signals are out (tests, shutdown).
    void waitForIdle();

    const PaneReply& lastReply() const { return lastReply_; }
    const std::optional<session::TextPerplexity>& lastPerplexity() const { return lastPerplexity_; }

    // The model's defaults from generation_config.json (nullopt: nothing loaded).
    std::optional<session::SamplingSettings> defaultSampling() const;

    // Chat template. Not while busy (returns false). setChatTemplate reports
    // a template that does not parse through `error` and keeps the old one.
    std::optional<session::TemplateInfo> chatTemplate() const;
    QString modelChatTemplate() const;
    bool setChatTemplate(const QString& source, bool addSpecialTokens, QString* error = nullptr);
    bool resetChatTemplate();
    // The rendered prompt with `source` for the current conversation (preview).
    QString previewChatTemplate(const QString& source, QString* error) const;
    // Where the template dialog's preview gets the conversation from.
    void setConversationProvider(std::function<session::Conversation()> provider) {
        conversationProvider_ = std::move(provider);
    }

    // Transcript.
    void showUserMessage(const QString& text);
    void showNote(const QString& text);  // a grey line, e.g. "(stopped)"
    void clearTranscript();
    QString transcriptText() const;
    QString statsText() const;
    QString statusText() const;

public slots:
    void refreshMemory();
    void editChatTemplate();  // opens the template dialog (modal)

signals:
    void busyChanged(bool busy);
    void modelLoaded(const QString& path);
    // Text of the answer as it streams (never empty).
    void textStreamed(const QString& text);
    // The answer ended: lastReply() holds it, whether finished, cancelled or failed.
    void replyEnded();
    // Perplexity ended: lastPerplexity() holds the report, nullopt when it
    // failed or was cancelled.
    void perplexityEnded();
    // A job failed: `where` names the file or setting, `problem` says what is wrong.
    void failed(const QString& where, const QString& problem);
    void statusMessage(const QString& message);

private:
    enum class Job { None, Load, Generate, Perplexity };
    void refreshDevices();
    void onJobProgress(const glq::ui::JobProgress& p);
    void onJobEnded(int outcome, const QString& where, const QString& problem);
    void onToken(int id, const QString& text);
    void updateControls();
    void setStatus(const QString& text, bool isError = false);
    void showModelInfo();
    void beginAnswer();

    QString title_;
    DeviceMonitor* devices_;
    std::shared_ptr<session::ChatSession> session_;
    Worker* worker_;
    Job job_ = Job::None;
    std::optional<session::ModelInfo> info_;
    QString loadingPath_;
    PaneReply lastReply_;
    std::optional<session::TextPerplexity> lastPerplexity_;
    int streamedTokens_ = 0;
    std::function<session::Conversation()> conversationProvider_;
    std::shared_ptr<std::optional<session::ChatReply>> pendingReply_;
    std::shared_ptr<std::optional<session::TextPerplexity>> pendingPerplexity_;

    // The memory estimate runs off the GUI thread (it opens the folder).
    struct Estimate {
        QString key;  // path|device|dtype it is for
        std::optional<session::MemoryEstimate> memory;
        QString error;
    };
    QFutureWatcher<Estimate>* estimateWatcher_;
    QString estimateKey_;
    QString shownKey_;  // the choice the read-out is for
    bool estimateAgain_ = false;
    bool loadAllowed_ = true;
    std::optional<bool> fits_;

    QLabel* titleLabel_;
    QLineEdit* path_;
    QPushButton* browse_;
    QComboBox* device_;
    QComboBox* dtype_;
    QPushButton* load_;
    QPushButton* cancel_;
    QProgressBar* progress_;
    QLabel* memory_;
    QPushButton* useCpu_;
    QLabel* model_;
    QPushButton* template_;
    QTextEdit* transcript_;
    QLabel* stats_;
    QLabel* status_;
};

} // namespace glq::ui
