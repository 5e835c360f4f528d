#pragma once
// The Compare step: two models side by side — by default the original and
// its quantized version, but any two model folders (HF or GLQ checkpoint).
// Each pane (ChatPane) has its own folder chooser, device, precision, Load
// with progress and cancel, and the memory check. One prompt box sends the
// same conversation to both; the answers stream token by token, and each
// pane shows prefill and decode tok/s, time to first token and memory.
// Also: Stop, Clear, sampling settings and system prompt (kept in QSettings),
// each pane's chat template (view and edit), export of the conversation as
// Markdown or JSON (written atomically), and perplexity of both models on a
// held-out text file with their ratio.
//
// The two answers run one after the other (left, then right), each on its
// pane's own Worker, never at the same time: on one GPU or one CPU the two
// models would share the device's compute and memory bandwidth, and each
// tok/s would show roughly half its speed — the speed comparison this view
// is for would be meaningless. The cost is waiting for the second answer.
// Perplexity runs the same way. Loading the two models may overlap (no
// timing is taken there), but no pane loads while an answer or perplexity
// runs. The free memory the panes check against comes from the main window's
// DeviceMonitor (or, standing alone, the view's own: RAM, and nvidia-smi
// every 10 s).
//
// The conversation: every user turn goes to every pane that has a model
// loaded; each pane's history holds the user turns it answered and its own
// answers (a stopped answer keeps the text it had). The system prompt and
// sampling settings in effect when a turn is sent are recorded with it.
//
// Signals (for the main window):
//   error(where, problem)  a load, answer, perplexity or export failed;
//                          `where` names the file or setting. The view stays usable.
//   busyChanged(busy)      a pane started or ended a load, answer or perplexity.
//   statusMessage(text)    one line for the log / status bar.
//   exchangeFinished()     every pane has answered (or was stopped) for the last prompt.
//   perplexityFinished()   both perplexity runs ended (see perplexityText()).

#include <QVector>
#include <QWidget>
#include <array>
#include <optional>

#include "core/session/chat_session.h"
#include "ui/chat_pane.h"

class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace glq::ui {

class DeviceMonitor;

class CompareView : public QWidget {
    Q_OBJECT
public:
    // `devices`: the window's monitor, shared; without one the view starts its own.
    explicit CompareView(QWidget* parent = nullptr, DeviceMonitor* devices = nullptr);
    ~CompareView() override;

    enum Side { Left = 0, Right = 1 };
    ChatPane* pane(int side) const { return panes_[static_cast<std::size_t>(side)]; }

    // Sampling settings and system prompt as the controls hold them.
    session::SamplingSettings sampling() const;
    void setSampling(const session::SamplingSettings& s);
    QString systemPrompt() const;
    void setSystemPrompt(const QString& text);

    bool isBusy() const;

    // One user turn.
    struct Turn {
        QString user;
        QString systemPrompt;
        session::SamplingSettings sampling;
        std::array<std::optional<PaneReply>, 2> replies;  // nullopt: that pane did not answer
    };
    const QVector<Turn>& turns() const { return turns_; }

    // The conversation as pane `side` sees it (its answered turns), plus
    // `pendingUser` as the last user message when it is not empty.
    session::Conversation conversationFor(int side, const QString& pendingUser = {}) const;

    // The conversation as a document (see the top for what goes in).
    QString markdown() const;
    QByteArray json() const;
    // Writes markdown()/json() to `path` atomically; false (and error()) on failure.
    bool exportMarkdown(const QString& path);
    bool exportJson(const QString& path);

    // Perplexity read-out ("" until a run ended).
    QString perplexityText() const;
    QString perplexityFile() const;
    void setPerplexityFile(const QString& path);

public slots:
    // Fills both panes' folder boxes (and their memory checks); loads nothing.
    void setModels(const QString& left, const QString& right);
    // Loads whatever each pane's folder box names.
    void loadModels();
    // Sends `prompt` to every pane with a model; false when it cannot (empty
    // prompt, no model loaded, busy, bad sampling settings: error() says why).
    bool send(const QString& prompt);
    // Sends the prompt box's text.
    void sendPrompt();
    // Stops the running answer or perplexity; the queued pane does not start.
    void stop();
    // Forgets the conversation (not while busy).
    void clear();
    // Runs perplexity of both loaded models on `textFile`.
    bool runPerplexity(const QString& textFile);
    // Takes the sampling defaults of the first loaded model's generation_config.json.
    void useModelDefaults();

signals:
    void error(const QString& where, const QString& problem);
    void busyChanged(bool busy);
    void statusMessage(const QString& message);
    void exchangeFinished();
    void perplexityFinished();

private:
    // The panes with a model, left first; none: error() says so.
    QVector<int> loadedSides();
    void startNextAnswer();
    void startNextPerplexity();
    void onPaneBusyChanged();
    void updateControls();
    void saveSettings();
    void loadSettings();
    void showStatus(const QString& text, bool isError = false);
    void fail(const QString& where, const QString& problem);
    void exportAs(bool json);
    void updatePerplexityText();

    DeviceMonitor* devices_;
    std::array<ChatPane*, 2> panes_{};
    QVector<Turn> turns_;
    QVector<int> answerQueue_;
    QVector<int> perplexityQueue_;
    bool exchangeRunning_ = false;
    bool perplexityRunning_ = false;
    bool busy_ = false;
    QString perplexityRunFile_;
    std::array<std::optional<session::TextPerplexity>, 2> perplexity_;

    QPlainTextEdit* system_;
    QDoubleSpinBox* temperature_;
    QSpinBox* topK_;
    QDoubleSpinBox* topP_;
    QDoubleSpinBox* minP_;
    QDoubleSpinBox* repetition_;
    QSpinBox* seed_;
    QSpinBox* maxTokens_;
    QPlainTextEdit* prompt_;
    QPushButton* send_;
    QPushButton* stop_;
    QPushButton* clear_;
    QPushButton* export_;
    QLineEdit* pplFile_;
    QSpinBox* pplSeqlen_;
    QSpinBox* pplWindows_;
    QPushButton* pplRun_;
    QLabel* pplResult_;
    QLabel* status_;
};

} // namespace glq::ui
