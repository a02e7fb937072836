// pocketpages-plugin-datastar, built into PocketGuest.
//
// Adds api.datastar to every page (PocketPages' names and argument order):
//
//   datastar.scripts({spa?, realtime?})     the <script> tags for the layout
//   datastar.readSignals(request, target)   the request's signals merged into target
//   datastar.patchElements(html, {selector, mode, useViewTransition, eventId, retryDuration})
//   datastar.patchSignals(json, {onlyIfMissing, eventId, retryDuration})
//   datastar.executeScript(js, {autoRemove, attributes, eventId, retryDuration})
//   datastar.consoleLog / consoleError / redirect / dispatchCustomEvent / replaceURL / prefetch
//   datastar.realtime.patchElements(html, patchOptions, {filter})  to every subscribed browser
//   datastar.realtime.patchSignals(json, options)                  (needs pocketpages-plugin-realtime)
//
// patch*/executeScript write server-sent events to the response as they are
// called; the wire format is datastar-go's (the official Go SDK), not a copy.
// For a request made by Datastar (header Datastar-Request: true) the
// rendered page itself is sent as a patch-elements event, into
// Datastar-Selector when the request names one.

const natives = __pocketguestPlugins

// The scripts are PocketPages' own (loader.html, realtime.html, spa.html).
const loaderScript = `<script
  type="module"
  defer
  src="https://cdn.jsdelivr.net/gh/starfederation/datastar@main/bundles/datastar.js"
></script>
<script language="javascript">
  const patchSignals = (signals) => {
    document.dispatchEvent(
      new CustomEvent('datastar-fetch', {
        detail: {
          type: 'datastar-patch-signals',
          el: null,
          argsRaw: {
            signals: JSON.stringify(signals),
          },
        },
      })
    )
  }
</script>`

const realtimeScript = `<script>
  {
    const source = new EventSource('/api/realtime') // URL to your SSE endpoint
    source.addEventListener('PB_CONNECT', function (event) {
      const e = JSON.parse(event.data)
      // console.log('PB_CONNECT event:', e)
      const { clientId } = e
      fetch(\`/api/realtime\`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({
          clientId,
          subscriptions: ['datastar'],
        }),
      }).catch(console.error)

      patchSignals({ clientId })
    })

    source.addEventListener('datastar', function (event) {
      const e = JSON.parse(event.data)
      // console.log('datastar event:', e)
      document.dispatchEvent(
        new CustomEvent('datastar-fetch', {
          detail: e,
        })
      )
    })
  }
</script>`

const spaScript = `<script>
  {
    const headers = {}
    if ('{{selector}}') {
      headers['Datastar-Selector'] = '{{selector}}'
    }

    // Wait for DOM to be fully loaded before adding the popstate div
    const addPopstateDiv = () => {
      var popstateDiv = document.createElement('div')
      popstateDiv.setAttribute(
        'data-on-popstate__window',
        \`url=event.state?.datastar?.url;if(!url) return;@get(url, {headers: \${JSON.stringify(headers)}})\`
      )
      document.body.appendChild(popstateDiv)
    }

    // Add the div when DOM is ready
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', addPopstateDiv)
    } else {
      addPopstateDiv()
    }

    document.addEventListener('DOMContentLoaded', function () {
      var e = document.querySelector('{{scope}}')
      if (!e) return
      var links = e.querySelectorAll('a')
      links.forEach(function (a) {
        a.setAttribute(
          'data-on-click',
          \`evt.preventDefault();e=evt.target;href=e.getAttribute('href');history.pushState({datastar: {url: href, }}, '', href);@get(href, {headers: \${JSON.stringify(headers)}})\`
        )
      })
    })
  }
</script>`

const EventType = {
  PatchElements: 'datastar-patch-elements',
  PatchSignals: 'datastar-patch-signals',
}

function replaceAll(s, search, replacement) {
  return s.split(search).join(replacement)
}

function datastarPluginFactory(config) {
  const dbg = config.dbg || (() => {})

  return {
    name: 'datastar',
    onExtendContextApi: ({ api }) => {
      // The request's event stream, opened by the first event.
      const stream = () => natives.sse(api.request.event)

      const realtimeSend = (message, realtimeOptions) => {
        if (!api.realtime) {
          throw new Error('datastar.realtime needs pocketpages-plugin-realtime in +config.js plugins')
        }
        api.realtime.send('datastar', JSON.stringify(message), realtimeOptions)
      }

      const datastar = {
        scripts(options) {
          const scripts = [loaderScript]
          if (options && options.spa) {
            scripts.push(
              replaceAll(
                replaceAll(spaScript, '{{scope}}', options.spa.scope),
                '{{selector}}',
                options.spa.selector || ''
              )
            )
          }
          if (options && options.realtime) scripts.push(realtimeScript)
          return scripts.join('\n')
        },

        realtime: {
          patchSignals(signals, options) {
            dbg(`Sending realtime patchSignals: ${signals}`)
            realtimeSend({
              type: EventType.PatchSignals,
              el: null,
              argsRaw: { signals, ...options },
            })
          },
          patchElements(elements, patchOptions, realtimeOptions) {
            dbg(`Sending realtime patchElements: ${elements}`)
            realtimeSend(
              {
                type: EventType.PatchElements,
                el: null,
                argsRaw: { elements, ...patchOptions },
              },
              realtimeOptions
            )
          },
        },

        patchElements(elements, options) {
          stream().patchElements(elements == null ? '' : String(elements), options)
        },

        patchSignals(signals, options) {
          stream().patchSignals(typeof signals === 'string' ? signals : JSON.stringify(signals), options)
        },

        executeScript(script, options) {
          stream().executeScript(String(script), options)
        },

        consoleLog(msg, options) {
          datastar.executeScript(`console.log(${JSON.stringify(msg)})`, options)
        },

        consoleError(err, options) {
          const errorMsg = typeof err === 'string' ? err : err.message
          datastar.executeScript(`console.error(${JSON.stringify(errorMsg)})`, options)
        },

        redirect(url, options) {
          datastar.executeScript(`setTimeout(() => window.location.href = ${JSON.stringify(url)})`, options)
        },

        dispatchCustomEvent(eventName, detail, options) {
          if (!eventName) throw new Error('eventName is required')
          const opts = {
            eventId: '',
            retryDuration: 1000,
            selector: 'document',
            bubbles: true,
            cancelable: true,
            composed: true,
            ...options,
          }
          const elementsJS =
            opts.selector === 'document'
              ? '[document]'
              : `document.querySelectorAll(${JSON.stringify(opts.selector)})`
          const js = `
const elements = ${elementsJS}

const event = new CustomEvent(${JSON.stringify(eventName)}, {
  bubbles: ${opts.bubbles},
  cancelable: ${opts.cancelable},
  composed: ${opts.composed},
  detail: ${JSON.stringify(detail)},
});

elements.forEach((element) => {
  element.dispatchEvent(event);
});
          `
          const executeOptions = {}
          if (opts.eventId) executeOptions.eventId = opts.eventId
          if (opts.retryDuration) executeOptions.retryDuration = opts.retryDuration
          datastar.executeScript(js, executeOptions)
        },

        replaceURL(url, options) {
          datastar.executeScript(`window.history.replaceState({}, "", ${JSON.stringify(url)})`, options)
        },

        prefetch(urls, options) {
          const wrappedURLs = urls.map((url) => JSON.stringify(url))
          const script = `
{
  "prefetch": [
    {
      "source": "list",
      "urls": [
        ${wrappedURLs.join(',\n        ')}
      ]
    }
  ]
}
          `
          datastar.executeScript(script, {
            autoRemove: false,
            attributes: ['type="speculationrules"'],
            ...options,
          })
        },

        readSignals(request, target) {
          if (target === undefined || target === null) target = {}
          const raw = natives.readSignals((request || api.request).event)
          if (!raw) return target
          return Object.assign(target, JSON.parse(raw))
        },
      }
      api.datastar = datastar
    },

    onRender: ({ content, api }) => {
      if (api.request.header('Datastar-Request') !== 'true') return content
      const selector = api.request.header('Datastar-Selector')
      const options = {}
      if (selector) {
        options.mode = 'inner'
        options.selector = selector
      }
      api.datastar.patchElements(content, options)
      return content
    },
  }
}

module.exports = datastarPluginFactory
module.exports.default = datastarPluginFactory
