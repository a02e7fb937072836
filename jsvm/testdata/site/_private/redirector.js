api.redirect('/from-module')
